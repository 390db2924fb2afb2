#!/usr/bin/env python3
"""Import circles and upward arrows between the modules of src/ (issue 21): the module-level
graph from `crate::` and `super::` paths in code (comments, strings and `mod tests` left out),
following `pub use` re-exports, its strongly connected components, and arrows that run up a
floor (floors: bounded_read/error_chain < oci, blueprint < simulator, render < engine < ops <
error, commands < cli). Run: python3 tools/import_circles.py src"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
mods = {}
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)[:-3].split(os.sep)
        if rel[-1] in ('mod',): rel = rel[:-1]
        if rel in (['lib'], ['main']): rel = []
        mods['::'.join(rel)] = p
reexports = {}
for m, p in mods.items():
    t = open(p).read()
    for mm in re.finditer(r'pub use (?:self::)?(\w+)((?:::\w+)*)::(?:\{([^}]*)\}|(\w+));', t):
        sub, rest, group, one = mm.groups()
        names = [g.strip().split(' as ')[-1].strip() for g in (group.split(',') if group else [one]) if g.strip()]
        target = '::'.join(([m] if m else []) + [sub] + [x for x in rest.split('::') if x])
        for n in names:
            reexports['::'.join(([m] if m else []) + [n])] = target
def resolve(path):
    parts = path.split('::')
    for k in range(len(parts), 0, -1):
        cand = '::'.join(parts[:k])
        if cand in reexports:
            return resolve(reexports[cand])
        if cand in mods: return cand
    return None
edges = {}
for m, p in mods.items():
    if m.endswith('tests') or '::tests' in m: continue
    text = open(p).read()
    # drop #[cfg(test)] mod tests { ... } at the end (convention here)
    i = text.find('#[cfg(test)]\nmod tests')
    if i >= 0: text = text[:i]
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    here = m.split('::') if m else []
    is_dir = p.endswith('mod.rs') or p.endswith('lib.rs')
    base = here if is_dir else here[:-1]   # what `super` is relative to... 
    targets = set()
    # expand grouped uses: use crate::a::{b, c::d};
    for mm in re.finditer(r'\b(crate|super)((?:::\w+)+)(::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\})?', text):
        head, path, _, group = mm.group(1), mm.group(2)[2:], mm.group(3), mm.group(4)
        if head == 'crate': prefix = []
        else:
            prefix = here[:-1]
        paths = [path]
        if group:
            paths = []
            for g in re.split(r',(?![^{]*\})', group):
                g = g.strip().split(' as ')[0].strip()
                if not g: continue
                g = re.sub(r'::\{.*', '', g, flags=re.S)
                paths.append(path + ('' if g == 'self' else '::' + g))
        for pth in paths:
            full = '::'.join(prefix + pth.split('::'))
            t = resolve(full)
            if t is not None and t != m and not (m.startswith(t + '::') and False):
                targets.add(t)
    edges[m] = targets
# SCCs (Tarjan)
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def strong(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in edges: continue
        if w not in idx: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in sorted(edges):
    if v not in idx: strong(v)
print(f"{len(sccs)} import circles:")
for comp in sccs:
    print("  " + ", ".join(comp))
    for a in comp:
        for b in sorted(edges[a]):
            if b in comp: print(f"      {a} -> {b}")
# layers: lower number = lower floor
floors = {'bounded_read': 0, 'error_chain': 0, 'oci': 1, 'blueprint': 1, 'simulator': 2, 'render': 2, 'engine': 3, 'ops': 4, 'error': 5, 'commands': 5, 'cli': 6, '': 7}
print("arrows running up a floor:")
for a in sorted(edges):
    for b in sorted(edges[a]):
        fa, fb = floors.get(a.split('::')[0]), floors.get(b.split('::')[0])
        if fa is not None and fb is not None and fb > fa:
            print(f"  {a} -> {b}")
