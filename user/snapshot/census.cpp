// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/census.h"

#include <algorithm>
#include <map>

#include "python/symbolizer.h"
#include "snapshot/dict_reader.h"
#include "snapshot/dominators.h"

namespace leakscope::snapshot {
namespace {

constexpr size_t kMaxKeyChars = 80;
constexpr size_t kMaxPathDepth = 64;
constexpr uint64_t kSmallRequestThreshold = 512;  // larger requests bypass pymalloc

std::string str_at(const ReadContext& ctx, uint64_t addr) {
    return python::read_unicode(ctx.mem, ctx.layout, addr, kMaxKeyChars).value_or("");
}

// A module root is named by its __name__.
std::string module_name(const HeapSource& s, uint64_t module) {
    std::string name;
    auto dict = s.ctx.mem.read_ptr(module + s.ctx.layout.module_dict);
    if (dict)
        for_each_dict_entry(s.ctx.mem, s.ctx.layout, *dict, [&](uint64_t k, uint64_t v, uint64_t) {
            if (name.empty() && str_at(s.ctx, k) == "__name__") name = str_at(s.ctx, v);
        });
    return name.empty() ? "<module>" : name;
}

std::string root_name(const HeapSource& s, const Heap& h, uint32_t node) {
    for (const ThreadFrame& f : h.frames)
        if (f.node == node) return "thread " + std::to_string(f.tid) + " " + f.function + "()";
    const TypeInfo& t = s.types.at(h.type[node]);
    if (t.kind == Kind::Module) return module_name(s, h.addr[node]);
    const int32_t self = s.types.resolve(h.addr[node]);
    return self >= 0 ? s.types.at(self).name : t.name;
}

// The step from parent to child; namespace: the parent is a __dict__.
std::string step(const HeapSource& s, const Heap& h, uint32_t parent, uint32_t child, bool& ns) {
    const bool in_namespace = ns;
    ns = false;
    for (const Edge& e : node_edges(s, h, parent)) {
        if (e.target != h.addr[child]) continue;
        switch (e.kind) {
        case EdgeKind::Namespace: ns = true; return "";
        case EdgeKind::DictValue: {
            const std::string key = str_at(s.ctx, e.label);
            return in_namespace && !key.empty() ? "." + key : "['" + key + "']";
        }
        case EdgeKind::Attribute: return "." + str_at(s.ctx, e.label);
        case EdgeKind::Slot: return "." + s.types.at(h.type[parent]).slots[e.label].name;
        case EdgeKind::Local: return " local " + str_at(s.ctx, e.label);
        case EdgeKind::Item: return "[" + std::to_string(e.label) + "]";
        case EdgeKind::SetItem: return "{item}";
        case EdgeKind::DictKey: return "<key>";
        case EdgeKind::Class: return ".__class__";
        case EdgeKind::Field: {
            const char* name = field_name(s.ctx.layout, s.types.at(h.type[parent]), int64_t(e.label));
            return name ? std::string(".") + name : "<field +" + std::to_string(e.label) + ">";
        }
        }
    }
    return "<?>";  // the target changed since it was read
}

uint64_t container_len(const ReadContext& ctx, uint64_t obj, Kind kind) {
    const int64_t off = kind == Kind::Dict ? ctx.layout.dict_used
                      : kind == Kind::Set ? ctx.layout.set_used : ctx.layout.varobject_size;
    return std::max<int64_t>(ctx.mem.read_as<int64_t>(obj + off).value_or(0), 0);
}

std::vector<TypeCount> sorted_counts(const std::map<std::string, TypeCount>& by_name) {
    std::vector<TypeCount> out;
    for (const auto& [name, c] : by_name) out.push_back(c);
    std::sort(out.begin(), out.end(), [](const TypeCount& a, const TypeCount& b) {
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.count > b.count;
    });
    return out;
}

void count_types(const HeapSource& s, const Heap& h, Census& c) {
    std::map<std::string, TypeCount> by_name, unreadable;
    for (uint32_t n = 1; n < h.nodes(); ++n) {
        if (h.type[n] == kNoType) continue;
        const TypeInfo& t = s.types.at(h.type[n]);
        TypeCount& tc = by_name[t.name];
        tc.type = t.name;
        ++tc.count;
        tc.bytes += h.size[n];
        ++c.objects;
        c.bytes += h.size[n];
        if (h.size[n] > kSmallRequestThreshold) c.large_bytes += h.size[n];
        if (t.kind == Kind::Unreadable) {
            TypeCount& u = unreadable[t.name];
            u.type = t.name;
            ++u.count;
            u.bytes += h.size[n];
        }
    }
    c.types = sorted_counts(by_name);
    c.unreadable = sorted_counts(unreadable);
}

}  // namespace

bool is_container(Kind k) {
    return k == Kind::Dict || k == Kind::List || k == Kind::Tuple || k == Kind::Set || k == Kind::Deque;
}

std::vector<PathStep> path_steps(const HeapSource& s, const Heap& h, const BigVector<uint32_t>& parents,
                                 uint32_t node) {
    std::vector<uint32_t> chain;
    for (uint32_t n = node; n != kAllRoots && n != kUnreached && chain.size() < kMaxPathDepth; n = parents[n])
        chain.push_back(n);
    if (chain.empty() || parents[chain.back()] != kAllRoots) return {};
    std::reverse(chain.begin(), chain.end());
    std::vector<PathStep> steps{{chain[0], root_name(s, h, chain[0])}};
    bool ns = false;
    for (size_t i = 1; i < chain.size(); ++i) {
        std::string text = step(s, h, chain[i - 1], chain[i], ns);
        steps.push_back({chain[i], std::move(text), ns});
    }
    return steps;
}

std::string node_path(const HeapSource& s, const Heap& h, const BigVector<uint32_t>& parents, uint32_t node) {
    std::string path;
    for (const PathStep& st : path_steps(s, h, parents, node)) path += st.text;
    return path.empty() ? "<unreachable>" : path;
}

Census take_census(const HeapSource& s, const Heap& h, size_t max_holders) {
    Census c;
    count_types(s, h, c);
    const Dominators dom = dominators(h.edge_begin, h.edges, h.size);
    const BigVector<uint32_t> parents = bfs_parents(h.edge_begin, h.edges);
    std::vector<uint32_t> candidates;
    for (uint32_t n = 1; n < h.nodes(); ++n) {
        if (!dom.retained_objects[n] || h.type[n] == kNoType) continue;  // unreached, or virtual
        ++c.reached;
        if (is_container(s.types.at(h.type[n]).kind)) candidates.push_back(n);
    }
    std::sort(candidates.begin(), candidates.end(), [&](uint32_t a, uint32_t b) {
        return dom.retained_bytes[a] > dom.retained_bytes[b];
    });
    for (uint32_t n : candidates) {
        if (c.holders.size() >= max_holders) break;
        bool ns = false;
        const uint32_t parent = parents[n];
        if (parent != kAllRoots) step(s, h, parent, n, ns);
        if (ns) continue;  // a module's, class's or instance's __dict__: its owner is the holder
        const TypeInfo& t = s.types.at(h.type[n]);
        c.holders.push_back({node_path(s, h, parents, n), t.name, container_len(s.ctx, h.addr[n], t.kind),
                             dom.retained_bytes[n], dom.retained_objects[n]});
    }
    return c;
}

}  // namespace leakscope::snapshot
