#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Regenerate tests/unit/linetable_cases.inc from the real interpreters.

    python3 tests/unit/gen_linetable_cases.py > tests/unit/linetable_cases.inc
    python3 tests/unit/gen_linetable_cases.py --seeds tests/fuzz/corpus/linetable_fuzz

Each interpreter compiles the same source and reports, for every code object,
its raw line table and the line of every instruction as the interpreter itself
computes it: 3.8/3.9 dis.findlinestarts, 3.10 co_lines(), 3.11+ co_positions()
checked against co_lines(), and every version also checked against its own C
PyCode_Addr2Line. Interpreters that are not installed are skipped.
"""

import ctypes
import dis
import json
import os
import struct
import subprocess
import sys

SOURCE = '''\
def multiline_call(a, b):
    total = sum(
        [a,
         b,

         a * b],
    )
    return (total
            + 1)


def blank_lines_and_loops(n):
    out = []

    # a comment between statements

    for i in range(n):
        if i % 2:
            continue
        out.append(i)
    while n > 0:
        n -= 1
    return out


def exceptions(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return str(e)
    finally:
        path = None


def generator(xs):
    for x in xs:
        yield (lambda y: y + 1)(x)


class Klass:
    def method(self):
        return [i for i in range(3)]
'''


def long_function_source():
    """Line gaps > 255, a call whose closing line is 300 lines below its
    start (large negative delta back to the call), and one line with more
    than 255 bytes of bytecode."""
    gap = '\n' * 300
    return (
        'def long_function(a, f):\n'
        '    x = 1\n'
        + gap +
        '    y = f(\n'
        '        a,\n'
        + gap +
        '        a)\n'
        '    z = [' + ', '.join(['a'] * 200) + ']\n'
        '    return x, y, z\n')


def interpreters():
    root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    try:
        root = subprocess.check_output(['pyenv', 'root'], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for ver in ['3.8.18', '3.9.18', '3.10.13', '3.11.7', '3.12.1', '3.13.0']:
        exe = os.path.join(root, 'versions', ver, 'bin', 'python' + ver.rsplit('.', 1)[0])
        found.append((ver, exe))
    found.append(('debian', '/usr/bin/python3.11'))
    return found


def instruction_lines(code):
    """(byte offset, line) for every instruction (every code unit on 3.11+,
    CACHE entries included); line is -1 where the interpreter has none."""
    nbytes = len(code.co_code)
    minor = sys.version_info[1]
    if minor <= 9:
        starts = list(dis.findlinestarts(code))
        out, line = [], None
        for off in range(0, nbytes, 2):
            for addr, lineno in starts:
                if addr <= off:
                    line = lineno
            out.append((off, line))
        return out
    by_range = {}
    for start, end, line in code.co_lines():
        for off in range(start, end, 2):
            by_range[off] = -1 if line is None else line
    if minor == 10:
        return [(off, by_range[off]) for off in range(0, nbytes, 2)]
    out = []
    for unit, pos in enumerate(code.co_positions()):
        line = -1 if pos[0] is None else pos[0]
        if by_range[unit * 2] != line:
            raise SystemExit('co_positions and co_lines disagree at %d in %s'
                             % (unit * 2, code.co_name))
        out.append((unit * 2, line))
    if len(out) * 2 != nbytes:
        raise SystemExit('co_positions does not cover co_code in ' + code.co_name)
    return out


def check_against_c_api(code, lines):
    """The C decoder the interpreter itself uses must agree with the Python view
    (it returns -1 for no line, and firstlineno for a negative offset)."""
    addr2line = ctypes.pythonapi.PyCode_Addr2Line
    addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
    addr2line.restype = ctypes.c_int
    for off, line in lines + [(-1, code.co_firstlineno)]:
        if addr2line(code, off) != line:
            raise SystemExit('PyCode_Addr2Line(%s, %d) = %d, expected %d'
                             % (code.co_name, off, addr2line(code, off), line))


def collect():
    """Runs inside each interpreter: prints its cases as JSON."""
    minor = sys.version_info[1]
    cases = []

    def visit(code, name, child_prefix):
        table = code.co_lnotab if minor <= 9 else code.co_linetable
        lines = instruction_lines(code)
        check_against_c_api(code, lines)
        cases.append({'name': name, 'firstlineno': code.co_firstlineno,
                      'table': list(table), 'lines': lines})
        for const in code.co_consts:
            if hasattr(const, 'co_code'):
                child = child_prefix + const.co_name
                visit(const, child, child + '.')

    visit(compile(SOURCE, 'cases.py', 'exec'), 'cases.py:<module>', 'cases.py:')
    visit(compile(long_function_source(), 'long.py', 'exec'), 'long.py:<module>', 'long.py:')
    json.dump({'version': '%d.%d.%d' % sys.version_info[:3], 'cases': cases}, sys.stdout)


def gather():
    results = []
    for label, exe in interpreters():
        if not os.access(exe, os.X_OK):
            print('skipping %s: %s not found' % (label, exe), file=sys.stderr)
            continue
        out = subprocess.check_output([exe, os.path.abspath(__file__), '--collect'])
        data = json.loads(out)
        data['label'] = data['version'] + (' (Debian)' if label == 'debian' else '')
        minor = int(data['version'].split('.')[1])
        data['format'] = ('Lnotab38' if minor <= 9 else
                          'Linetable310' if minor == 10 else 'Locations311')
        results.append(data)
    return results


def wrap(items, indent):
    lines, cur = [], indent
    for item in items:
        if len(cur) + len(item) + 2 > 100:
            lines.append(cur.rstrip())
            cur = indent
        cur += item + ', '
    lines.append(cur.rstrip())
    return '\n'.join(lines)


def emit(results):
    print('// SPDX-License-Identifier: BSD-2-Clause')
    print('// Generated by tests/unit/gen_linetable_cases.py from: %s.'
          % ', '.join(r['label'] for r in results))
    print('// Do not edit; regenerate instead.')
    for r in results:
        for c in r['cases']:
            print('{"%s", "%s", LineTableFormat::%s, %d,'
                  % (r['label'], c['name'], r['format'], c['firstlineno']))
            print(' {')
            print(wrap(['0x%02x' % b for b in c['table']], '  '))
            print(' },')
            print(' {')
            print(wrap(['{%d, %d}' % (o, l) for o, l in c['lines']], '  '))
            print(' }},')


def write_seeds(results, directory):
    """Fuzz seeds (see tests/fuzz/linetable_fuzz.cpp): firstlineno (i32 LE),
    four instruction indexes (u16 LE), then the table."""
    os.makedirs(directory, exist_ok=True)
    wanted = {'multiline_call', 'exceptions', 'long_function'}
    for r in results:
        if r['label'].endswith('(Debian)'):
            continue
        for c in r['cases']:
            short = c['name'].split(':', 1)[1]
            if short not in wanted:
                continue
            units = [o // 2 for o, _ in c['lines']]
            pick = [units[0], units[len(units) // 2], units[-1], units[-1] + 1]
            blob = struct.pack('<i4H', c['firstlineno'], *pick) + bytes(c['table'])
            name = '%s-%s' % (r['version'].rsplit('.', 1)[0], short)
            with open(os.path.join(directory, name), 'wb') as f:
                f.write(blob)


def main():
    if sys.argv[1:] == ['--collect']:
        collect()
    elif sys.argv[1:2] == ['--seeds'] and len(sys.argv) == 3:
        write_seeds(gather(), sys.argv[2])
    elif len(sys.argv) == 1:
        emit(gather())
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
