// SPDX-License-Identifier: BSD-2-Clause
#include "report/pprof_reporter.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <zlib.h>

#include <map>
#include <tuple>
#include <unordered_map>

#include "core/error.h"
#include "report/flame_reporters.h"
#include "profile.pb.h"

namespace leakscope::report {
namespace {

namespace pb = perftools::profiles;

// Builds the profile's tables: strings, functions and locations are each
// written once and referred to by index or id.
// Every Python frame runs in the interpreter: one mapping for its binary.
constexpr uint64_t kInterpreterMapping = 1;

class ProfileBuilder {
public:
    explicit ProfileBuilder(pb::Profile& p) : p_(p) { str(""); }  // string_table[0] must be ""

    int64_t str(const std::string& s) {
        auto [it, added] = strings_.try_emplace(s, int64_t(p_.string_table_size()));
        if (added) p_.add_string_table(s);
        return it->second;
    }

    void value_type(pb::ValueType* vt, const char* type, const char* unit) {
        vt->set_type(str(type));
        vt->set_unit(str(unit));
    }

    // One location per distinct frame (a Python frame has no address: its
    // identity is file, function and line).
    uint64_t location(const Frame& f) {
        auto [it, added] = locations_.try_emplace({f.file, f.line, f.function}, uint64_t(p_.location_size() + 1));
        if (!added) return it->second;
        pb::Location* loc = p_.add_location();
        loc->set_id(it->second);
        loc->set_mapping_id(kInterpreterMapping);
        pb::Line* line = loc->add_line();
        line->set_function_id(function(f));
        line->set_line(f.line > 0 ? f.line : 0);
        return it->second;
    }

private:
    uint64_t function(const Frame& f) {
        auto [it, added] = functions_.try_emplace({f.file, f.function}, uint64_t(p_.function_size() + 1));
        if (!added) return it->second;
        pb::Function* fn = p_.add_function();
        fn->set_id(it->second);
        fn->set_name(str(f.function));
        fn->set_system_name(str(f.function));
        fn->set_filename(str(f.file));
        return it->second;
    }

    pb::Profile& p_;
    std::unordered_map<std::string, int64_t> strings_;
    std::map<std::pair<std::string, std::string>, uint64_t> functions_;
    std::map<std::tuple<std::string, int, std::string>, uint64_t> locations_;
};

std::string gzip(const std::string& data) {
    z_stream z{};
    // windowBits 15 + 16: a gzip wrapper, as pprof expects.
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error(Errc::Internal, "zlib: deflateInit2 failed");
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = uInt(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    const int rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw Error(Errc::Internal, "zlib: deflate did not finish");
    out.resize(z.total_out);
    return out;
}

}  // namespace

std::string pprof_profile(const Report& report) {
    pb::Profile p;
    ProfileBuilder b(p);
    // The order of Go's heap profiles: tools pick inuse_space by its name.
    b.value_type(p.add_sample_type(), "alloc_objects", "count");
    b.value_type(p.add_sample_type(), "alloc_space", "bytes");
    b.value_type(p.add_sample_type(), "inuse_objects", "count");
    b.value_type(p.add_sample_type(), "inuse_space", "bytes");
    b.value_type(p.mutable_period_type(), "space", "bytes");
    p.set_period(int64_t(report.sampling.sample_bytes));
    p.set_default_sample_type(b.str("inuse_space"));
    p.set_time_nanos(int64_t(report.start_unix_s * 1e9));
    p.set_duration_nanos(int64_t(report.elapsed_s * 1e9));
    pb::Mapping* mapping = p.add_mapping();
    mapping->set_id(kInterpreterMapping);
    mapping->set_filename(b.str(report.target.binary));
    mapping->set_has_functions(true);
    mapping->set_has_filenames(true);
    mapping->set_has_line_numbers(true);
    p.add_comment(b.str("leakscope: PID " + std::to_string(report.target.pid) + ", CPython " + report.target.python +
                        ", " + report.target.binary));

    const int64_t site_key = b.str("site_id");
    for (const ProfileStack& s : report.profile) {
        pb::Sample* sample = p.add_sample();
        for (const Frame& f : drawn_frames(s)) sample->add_location_id(b.location(f));  // leaf first, as pprof wants
        sample->add_value(int64_t(s.alloc_objects));
        sample->add_value(int64_t(s.alloc_bytes));
        sample->add_value(int64_t(s.live_objects));
        sample->add_value(int64_t(s.live_bytes));
        pb::Label* label = sample->add_label();
        label->set_key(site_key);
        label->set_num(int64_t(s.site_id));
    }
    std::string bytes;
    // Deterministic serialization: the same report gives the same file.
    {
        google::protobuf::io::StringOutputStream stream(&bytes);
        google::protobuf::io::CodedOutputStream coded(&stream);
        coded.SetSerializationDeterministic(true);
        if (!p.SerializeToCodedStream(&coded)) throw Error(Errc::Internal, "pprof: serialization failed");
    }
    return gzip(bytes);
}

}  // namespace leakscope::report
