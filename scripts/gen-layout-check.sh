#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Prints offsetof/sizeof of every CPython field leakscope reads, one column per
# installed interpreter, by compiling a small C program against each version's
# own headers (internal ones included). Compare the output with the tables in
# user/python/layout.cpp and the supplements in user/python/debug_offsets.cpp
# (free-threaded prefixes print their own fields: ob_tid, tlbc_index, co_tlbc).
#
# Only reads installed headers; the build does not need it.
#   usage: scripts/gen-layout-check.sh [PYTHON_PREFIX...]
# Defaults to every pyenv 3.8-3.13 installation.
set -euo pipefail

if (($# == 0)); then
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  set -- "$root"/versions/3.{8,9,10,11,12,13}.*
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/probe.c" <<'C'
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#endif
#include "internal/pycore_pystate.h"
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#endif
#include "internal/pycore_gil.h"
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_stackref.h"
#endif

/* "sizeof(struct x)" -> "sizeof(x)": one token per name, for the table. */
static void P(const char* name, size_t value) {
  char buf[128];
  size_t n = 0;
  for (const char* s = name; *s && n + 1 < sizeof buf;) {
    if (!strncmp(s, "struct ", 7)) { s += 7; continue; }
    if (*s == ' ') { s++; continue; }
    buf[n++] = *s++;
  }
  buf[n] = 0;
  printf("%s %zu\n", buf, value);
}
#define O(type, field) P(#type "." #field, offsetof(type, field))
#define S(type) P("sizeof(" #type ")", sizeof(type))
#define D(sub, field) P("_Py_DebugOffsets." #sub "." #field, offsetof(_Py_DebugOffsets, sub.field))

int main(void) {
  O(_PyRuntimeState, interpreters.head);
  O(_PyRuntimeState, interpreters.main);
#if PY_VERSION_HEX < 0x030C0000
  O(_PyRuntimeState, gilstate.tstate_current);
  O(_PyRuntimeState, ceval.gil);
#endif
#if PY_VERSION_HEX < 0x03090000
  O(_PyRuntimeState, gc);
#endif
  O(struct _gil_runtime_state, last_holder);
  O(struct _gil_runtime_state, locked);

  O(PyInterpreterState, next);
#if PY_VERSION_HEX < 0x030B0000
  O(PyInterpreterState, tstate_head);
#else
  O(PyInterpreterState, threads.head);
#endif
  O(PyInterpreterState, id);
#if PY_VERSION_HEX >= 0x03090000
  O(PyInterpreterState, gc);
#endif
#if PY_VERSION_HEX >= 0x030C0000
  O(PyInterpreterState, ceval.gil);
#endif

  O(PyThreadState, prev);
  O(PyThreadState, next);
  O(PyThreadState, interp);
#if PY_VERSION_HEX < 0x030B0000
  O(PyThreadState, frame);
#elif PY_VERSION_HEX < 0x030D0000
  O(PyThreadState, cframe);
  O(_PyCFrame, current_frame);
#else
  O(PyThreadState, current_frame);
#endif
  O(PyThreadState, thread_id);
#if PY_VERSION_HEX >= 0x030B0000
  O(PyThreadState, native_thread_id);
#endif
  S(PyThreadState);

#if PY_VERSION_HEX < 0x030B0000
  O(PyFrameObject, f_back);
  O(PyFrameObject, f_code);
  O(PyFrameObject, f_lasti);
#else
  O(_PyInterpreterFrame, previous);
#if PY_VERSION_HEX < 0x030D0000
  O(_PyInterpreterFrame, f_code);
  O(_PyInterpreterFrame, prev_instr);
#else
  O(_PyInterpreterFrame, f_executable);
  O(_PyInterpreterFrame, instr_ptr);
#endif
  O(_PyInterpreterFrame, owner);
  S(_PyInterpreterFrame);
  P("FRAME_OWNED_BY_GENERATOR", FRAME_OWNED_BY_GENERATOR);
#if PY_VERSION_HEX >= 0x030C0000
  P("FRAME_OWNED_BY_CSTACK", FRAME_OWNED_BY_CSTACK);
#endif
#endif

  O(PyCodeObject, co_filename);
  O(PyCodeObject, co_name);
#if PY_VERSION_HEX >= 0x030B0000
  O(PyCodeObject, co_qualname);
#endif
#if PY_VERSION_HEX < 0x030A0000
  O(PyCodeObject, co_lnotab);
#else
  O(PyCodeObject, co_linetable);
#endif
  O(PyCodeObject, co_firstlineno);
#if PY_VERSION_HEX >= 0x030B0000
  O(PyCodeObject, _co_firsttraceable);
  O(PyCodeObject, co_code_adaptive);
#endif
  S(PyCodeObject);

  O(PyObject, ob_type);
  O(PyVarObject, ob_size);
  O(PyTypeObject, tp_name);
  O(PyTypeObject, tp_basicsize);
  O(PyTypeObject, tp_itemsize);
  O(PyTypeObject, tp_flags);
  O(PyBytesObject, ob_sval);
  O(PyASCIIObject, length);
  O(PyASCIIObject, state);
  S(PyASCIIObject);
  S(PyCompactUnicodeObject);

  O(struct _gc_runtime_state, enabled);
#ifdef Py_GIL_DISABLED
  /* Free-threaded: no PyGC_Head lists; the header carries the thread and split counts. */
  O(struct _gc_runtime_state, young);
  O(struct _gc_runtime_state, generation_stats);
  O(struct _gc_runtime_state, collecting);
  O(PyObject, ob_tid);
  O(PyObject, ob_gc_bits);
  O(PyObject, ob_ref_local);
  O(PyObject, ob_ref_shared);
#if PY_VERSION_HEX >= 0x030E0000
  O(_PyInterpreterFrame, tlbc_index);
  O(PyCodeObject, co_tlbc);
  P("Py_TAG_BITS", Py_TAG_BITS);
#endif
#else
  O(struct _gc_runtime_state, generations);
  S(struct gc_generation);
  O(struct gc_generation, threshold);
  O(struct gc_generation, count);
  O(struct _gc_runtime_state, generation_stats);
  O(struct _gc_runtime_state, collecting);
#if PY_VERSION_HEX < 0x030E0000
  O(struct _gc_runtime_state, long_lived_total);
  O(struct _gc_runtime_state, long_lived_pending);
#endif
#endif
  S(struct _gc_runtime_state);

#if PY_VERSION_HEX >= 0x030D0000
  /* The field order debug_offsets.cpp parses by. */
  S(_Py_DebugOffsets);
  D(runtime_state, size); D(runtime_state, finalizing); D(runtime_state, interpreters_head);
  D(interpreter_state, size); D(interpreter_state, id); D(interpreter_state, next);
  D(interpreter_state, threads_head); D(interpreter_state, gc);
  D(interpreter_state, imports_modules); D(interpreter_state, sysdict);
  D(interpreter_state, builtins); D(interpreter_state, ceval_gil);
  D(interpreter_state, gil_runtime_state); D(interpreter_state, gil_runtime_state_enabled);
  D(interpreter_state, gil_runtime_state_locked); D(interpreter_state, gil_runtime_state_holder);
  D(thread_state, size); D(thread_state, prev); D(thread_state, next); D(thread_state, interp);
  D(thread_state, current_frame); D(thread_state, thread_id); D(thread_state, native_thread_id);
  D(thread_state, datastack_chunk); D(thread_state, status);
  D(interpreter_frame, size); D(interpreter_frame, previous); D(interpreter_frame, executable);
  D(interpreter_frame, instr_ptr); D(interpreter_frame, localsplus); D(interpreter_frame, owner);
  D(code_object, size); D(code_object, filename); D(code_object, name); D(code_object, qualname);
  D(code_object, linetable); D(code_object, firstlineno); D(code_object, argcount);
  D(code_object, localsplusnames); D(code_object, localspluskinds); D(code_object, co_code_adaptive);
  D(pyobject, size); D(pyobject, ob_type);
  D(type_object, size); D(type_object, tp_name); D(type_object, tp_repr); D(type_object, tp_flags);
  D(tuple_object, size); D(tuple_object, ob_item); D(tuple_object, ob_size);
  D(list_object, size); D(list_object, ob_item); D(list_object, ob_size);
  D(dict_object, size); D(dict_object, ma_keys); D(dict_object, ma_values);
  D(float_object, size); D(float_object, ob_fval);
  D(long_object, size); D(long_object, lv_tag); D(long_object, ob_digit);
  D(bytes_object, size); D(bytes_object, ob_size); D(bytes_object, ob_sval);
  D(unicode_object, size); D(unicode_object, state); D(unicode_object, length);
  D(unicode_object, asciiobject_size);
  D(gc, size); D(gc, collecting);
#endif
  return 0;
}
C

columns=()
for prefix in "$@"; do
  inc=$(ls -d "$prefix"/include/python3.* 2>/dev/null | head -1) || true
  if [[ -z "$inc" || ! -d "$inc/internal" ]]; then
    echo "skip $prefix: no include/python3.X/internal" >&2
    continue
  fi
  ver=$(basename "$prefix")
  cc -std=c11 -w -I"$inc" -I"$inc/internal" "$work/probe.c" -o "$work/probe-$ver"
  "$work/probe-$ver" >"$work/$ver.txt"
  columns+=("$ver")
done
((${#columns[@]})) || { echo "no interpreter headers found" >&2; exit 1; }

# One row per name, one column per version; "-" where the field does not exist.
awk -v cols="${columns[*]}" '
  BEGIN { n = split(cols, ver, " ") }
  FNR == 1 { file++ }
  { if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 } val[$1, file] = $2 }
  END {
    printf "%-62s", "field"; for (i = 1; i <= n; i++) printf "%9s", ver[i]; print ""
    for (r = 1; r <= rows; r++) {
      printf "%-62s", order[r]
      for (i = 1; i <= n; i++) printf "%9s", ((order[r], i) in val) ? val[order[r], i] : "-"
      print ""
    }
  }' $(for c in "${columns[@]}"; do echo "$work/$c.txt"; done)
