// SPDX-License-Identifier: BSD-2-Clause
#include "trace/disasm.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <set>

namespace leakscope::trace {
namespace {

// Bounds of the short forward scans below.
constexpr int kEntryScan = 24;
constexpr int kFlagToBranch = 8;
constexpr int kBranchToStore = 8;

class Disassembler {
public:
    Disassembler() {
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &h_) != CS_ERR_OK) throw std::runtime_error("capstone: cs_open failed");
        cs_option(h_, CS_OPT_DETAIL, CS_OPT_ON);
        insn_ = cs_malloc(h_);
    }
    ~Disassembler() {
        cs_free(insn_, 1);
        cs_close(&h_);
    }
    Disassembler(const Disassembler&) = delete;
    Disassembler& operator=(const Disassembler&) = delete;

    // Decodes the instruction at vaddr inside code (mapped at base); null when
    // vaddr is outside code or the bytes are not an instruction.
    const cs_insn* at(uint64_t base, std::span<const uint8_t> code, uint64_t vaddr) {
        if (vaddr < base || vaddr >= base + code.size()) return nullptr;
        const uint8_t* p = code.data() + (vaddr - base);
        size_t n = code.size() - (vaddr - base);
        uint64_t addr = vaddr;
        return cs_disasm_iter(h_, &p, &n, &addr, insn_) ? insn_ : nullptr;
    }

    bool writes(const cs_insn* insn, x86_reg reg64) const;
    csh handle() const { return h_; }

private:
    csh h_ = 0;
    cs_insn* insn_ = nullptr;
};

// The 64-bit register a (sub-)register belongs to.
x86_reg full_register(x86_reg r) {
    static const struct {
        x86_reg full;
        x86_reg parts[4];
    } kFamilies[] = {
        {X86_REG_RAX, {X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH}},
        {X86_REG_RBX, {X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH}},
        {X86_REG_RCX, {X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH}},
        {X86_REG_RDX, {X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH}},
        {X86_REG_RSI, {X86_REG_ESI, X86_REG_SI, X86_REG_SIL, X86_REG_INVALID}},
        {X86_REG_RDI, {X86_REG_EDI, X86_REG_DI, X86_REG_DIL, X86_REG_INVALID}},
        {X86_REG_RBP, {X86_REG_EBP, X86_REG_BP, X86_REG_BPL, X86_REG_INVALID}},
        {X86_REG_R8, {X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, X86_REG_INVALID}},
        {X86_REG_R9, {X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, X86_REG_INVALID}},
        {X86_REG_R10, {X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, X86_REG_INVALID}},
        {X86_REG_R11, {X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, X86_REG_INVALID}},
        {X86_REG_R12, {X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, X86_REG_INVALID}},
        {X86_REG_R13, {X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, X86_REG_INVALID}},
        {X86_REG_R14, {X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, X86_REG_INVALID}},
        {X86_REG_R15, {X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, X86_REG_INVALID}},
    };
    for (const auto& f : kFamilies) {
        if (r == f.full) return r;
        for (x86_reg p : f.parts)
            if (p != X86_REG_INVALID && p == r) return f.full;
    }
    return r;
}

std::optional<ls_reg> to_ls_reg(x86_reg r) {
    switch (full_register(r)) {
    case X86_REG_R15: return LS_REG_R15;
    case X86_REG_R14: return LS_REG_R14;
    case X86_REG_R13: return LS_REG_R13;
    case X86_REG_R12: return LS_REG_R12;
    case X86_REG_RBP: return LS_REG_BP;
    case X86_REG_RBX: return LS_REG_BX;
    case X86_REG_R11: return LS_REG_R11;
    case X86_REG_R10: return LS_REG_R10;
    case X86_REG_R9: return LS_REG_R9;
    case X86_REG_R8: return LS_REG_R8;
    case X86_REG_RAX: return LS_REG_AX;
    case X86_REG_RCX: return LS_REG_CX;
    case X86_REG_RDX: return LS_REG_DX;
    case X86_REG_RSI: return LS_REG_SI;
    case X86_REG_RDI: return LS_REG_DI;
    default: return std::nullopt;
    }
}

x86_reg from_ls_reg(ls_reg r) {
    static const x86_reg kRegs[] = {X86_REG_R15, X86_REG_R14, X86_REG_R13, X86_REG_R12, X86_REG_RBP,
                                    X86_REG_RBX, X86_REG_R11, X86_REG_R10, X86_REG_R9,  X86_REG_R8,
                                    X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RSI, X86_REG_RDI};
    return kRegs[r];
}

bool Disassembler::writes(const cs_insn* insn, x86_reg reg64) const {
    cs_regs read, written;
    uint8_t nread = 0, nwritten = 0;
    if (cs_regs_access(h_, insn, read, &nread, written, &nwritten) != CS_ERR_OK) return true;
    for (uint8_t i = 0; i < nwritten; ++i)
        if (full_register(static_cast<x86_reg>(written[i])) == reg64) return true;
    return false;
}

bool is_branch(const cs_insn* insn) {
    const cs_detail* d = insn->detail;
    for (uint8_t i = 0; i < d->groups_count; ++i) {
        switch (d->groups[i]) {
        case CS_GRP_JUMP:
        case CS_GRP_CALL:
        case CS_GRP_RET:
        case CS_GRP_INT:
        case CS_GRP_IRET:
            return true;
        default:
            break;
        }
    }
    return false;
}

bool is_conditional_jump(const cs_insn* insn) {
    return insn->id >= X86_INS_JAE && insn->id <= X86_INS_JS && insn->id != X86_INS_JMP;
}

// The RIP-relative address an instruction's memory operand refers to, if any.
std::optional<uint64_t> rip_target(const cs_insn* insn) {
    const cs_x86& x = insn->detail->x86;
    for (uint8_t i = 0; i < x.op_count; ++i)
        if (x.operands[i].type == X86_OP_MEM && x.operands[i].mem.base == X86_REG_RIP)
            return insn->address + insn->size + x.operands[i].mem.disp;
    return std::nullopt;
}

bool reads_mem_at(const cs_insn* insn, x86_reg base, int64_t disp) {
    const cs_x86& x = insn->detail->x86;
    for (uint8_t i = 0; i < x.op_count; ++i) {
        const cs_x86_op& op = x.operands[i];
        if (op.type == X86_OP_MEM && full_register(op.mem.base) == base && op.mem.index == X86_REG_INVALID &&
            op.mem.disp == disp)
            return true;
    }
    return false;
}

// `movq $1, (reg)`: the store of a new object's reference count.
std::optional<x86_reg> refcount_store(const cs_insn* insn) {
    const cs_x86& x = insn->detail->x86;
    if (insn->id != X86_INS_MOV || x.op_count != 2) return std::nullopt;
    const cs_x86_op& dst = x.operands[0];
    const cs_x86_op& src = x.operands[1];
    if (dst.type != X86_OP_MEM || dst.size != 8 || dst.mem.index != X86_REG_INVALID || dst.mem.disp != 0 ||
        src.type != X86_OP_IMM || src.imm != 1)
        return std::nullopt;
    x86_reg base = full_register(dst.mem.base);
    if (base == X86_REG_RSP || base == X86_REG_RIP || base == X86_REG_INVALID) return std::nullopt;
    return base;
}

std::optional<uint64_t> branch_target(const cs_insn* insn) {
    const cs_x86& x = insn->detail->x86;
    if (x.op_count == 1 && x.operands[0].type == X86_OP_IMM) return static_cast<uint64_t>(x.operands[0].imm);
    return std::nullopt;
}

// Follows the not-tracing path from `start` to the reference-count store and
// returns the register holding the object, if it is not written on the way.
std::optional<x86_reg> object_register(Disassembler& dis, uint64_t base, std::span<const uint8_t> code,
                                       uint64_t start) {
    uint64_t pc = start;
    std::vector<x86_reg> written;
    for (int i = 0; i < kBranchToStore; ++i) {
        const cs_insn* insn = dis.at(base, code, pc);
        if (!insn) return std::nullopt;
        if (auto reg = refcount_store(insn)) {
            for (x86_reg w : written)
                if (w == *reg) return std::nullopt;
            return reg;
        }
        if (insn->id == X86_INS_JMP) {
            auto target = branch_target(insn);
            if (!target) return std::nullopt;
            pc = *target;
            continue;
        }
        if (is_branch(insn)) return std::nullopt;
        cs_regs read, wr;
        uint8_t nread = 0, nwritten = 0;
        if (cs_regs_access(dis.handle(), insn, read, &nread, wr, &nwritten) != CS_ERR_OK) return std::nullopt;
        for (uint8_t k = 0; k < nwritten; ++k) written.push_back(full_register(static_cast<x86_reg>(wr[k])));
        pc = insn->address + insn->size;
    }
    return std::nullopt;
}

// Instruction starts whose RIP-relative operand points at one of `targets`,
// found by scanning for the displacement bytes, then confirmed by decoding.
std::vector<uint64_t> rip_references(Disassembler& dis, uint64_t base, std::span<const uint8_t> code,
                                     const std::set<uint64_t>& targets) {
    std::vector<uint64_t> found;
    for (size_t p = 1; p + 4 <= code.size(); ++p) {
        int32_t disp;
        std::memcpy(&disp, code.data() + p, 4);
        for (size_t tail : {0, 1, 4}) {  // no immediate, imm8, imm32 after the displacement
            uint64_t end = base + p + 4 + tail;
            if (!targets.count(end + static_cast<int64_t>(disp))) continue;
            for (size_t back = 1; back <= 4 && back <= p; ++back) {
                uint64_t start = base + p - back;
                const cs_insn* insn = dis.at(base, code, start);
                if (insn && insn->address + insn->size == end && rip_target(insn) &&
                    targets.count(*rip_target(insn))) {
                    found.push_back(start);
                    break;
                }
            }
        }
    }
    return found;
}

}  // namespace

bool kernel_emulates(std::span<const uint8_t> b) {
    if (b.empty()) return false;
    // arch/x86/kernel/uprobes.c: push_setup_xol_ops (push reg, REX.B allowed)
    // and branch_setup_xol_ops (call/jmp rel, jcc, nop); prefixes disqualify.
    if (b[0] >= 0x50 && b[0] <= 0x57) return b.size() == 1;
    if (b[0] == 0x41 && b.size() == 2 && b[1] >= 0x50 && b[1] <= 0x57) return true;
    if (b[0] == 0x90 && b.size() == 1) return true;
    if (b[0] == 0xe8 || b[0] == 0xe9 || b[0] == 0xeb) return true;
    if (b[0] >= 0x70 && b[0] <= 0x7f) return true;
    if (b[0] == 0x0f && b.size() >= 2 && ((b[1] >= 0x80 && b[1] <= 0x8f) || b[1] == 0x1f)) return true;
    return false;
}

Placement place_in_function(uint64_t entry, std::span<const uint8_t> code, std::span<const ls_reg> keep) {
    Disassembler dis;
    Placement entry_placement{entry, false, "?"};
    uint64_t pc = entry;
    for (int i = 0; i < kEntryScan; ++i) {
        const cs_insn* insn = dis.at(entry, code, pc);
        if (!insn) break;
        std::string text = fmt::format("{} {}", insn->mnemonic, insn->op_str);
        if (i == 0) entry_placement.insn = text;
        if (kernel_emulates({insn->bytes, insn->size})) return {pc, true, text};
        if (is_branch(insn)) break;
        bool clobbers = false;
        for (ls_reg r : keep) clobbers |= dis.writes(insn, from_ls_reg(r));
        if (clobbers) break;
        pc = insn->address + insn->size;
    }
    return entry_placement;
}

std::vector<uint64_t> direct_call_targets(uint64_t base, std::span<const uint8_t> code) {
    Disassembler dis;
    std::vector<uint64_t> targets;
    for (uint64_t at = base; const cs_insn* insn = dis.at(base, code, at); at += insn->size)
        if (insn->id == X86_INS_CALL)
            if (auto target = branch_target(insn)) targets.push_back(*target);
    return targets;
}

SiteScan find_new_reference_sites(uint64_t base, std::span<const uint8_t> code, uint64_t flag_vaddr,
                                  uint64_t got_vaddr, int64_t flag_field) {
    Disassembler dis;
    SiteScan scan;
    std::set<uint64_t> targets{flag_vaddr};
    if (got_vaddr) targets.insert(got_vaddr);
    std::set<uint64_t> seen;

    for (uint64_t ref : rip_references(dis, base, code, targets)) {
        ++scan.candidates;
        const cs_insn* insn = dis.at(base, code, ref);
        const bool via_got = got_vaddr && rip_target(insn) == got_vaddr;
        x86_reg got_reg = X86_REG_INVALID;
        if (via_got) {
            const cs_x86& x = insn->detail->x86;
            if (insn->id != X86_INS_MOV || x.operands[0].type != X86_OP_REG) {
                scan.rejected.push_back(ref);
                continue;
            }
            got_reg = full_register(x.operands[0].reg);
        }
        // Forward to the flag read (GOT form), then to the je/jne on it.
        bool flag_read = !via_got;
        std::optional<uint64_t> site, off_path;
        uint64_t pc = insn->address + insn->size;
        for (int i = 0; i < kFlagToBranch && !site; ++i) {
            const cs_insn* next = dis.at(base, code, pc);
            if (!next) break;
            if (!flag_read) {
                // Other tests (a NULL check) may sit between the GOT load and the flag read.
                if (reads_mem_at(next, got_reg, flag_field)) flag_read = true;
                else if (dis.writes(next, got_reg) || (is_branch(next) && !is_conditional_jump(next))) break;
            } else if (next->id == X86_INS_JNE || next->id == X86_INS_JE) {
                auto target = branch_target(next);
                if (!target) break;
                site = next->address;
                off_path = next->id == X86_INS_JNE ? next->address + next->size : *target;
            } else if (is_branch(next)) {
                break;
            }
            pc = next->address + next->size;
        }
        std::optional<x86_reg> reg = site ? object_register(dis, base, code, *off_path) : std::nullopt;
        std::optional<ls_reg> lreg = reg ? to_ls_reg(*reg) : std::nullopt;
        if (!lreg) {
            scan.rejected.push_back(ref);
            continue;
        }
        if (seen.insert(*site).second) scan.sites.push_back({*site, *lreg});
    }
    return scan;
}

}  // namespace leakscope::trace
