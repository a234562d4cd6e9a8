"""Every text key the code uses: where it lives, that it exists, and what fills it.

Read from the sources with ``ast`` (nothing is run): every call that renders a text
(``ctx.t``, ``ctx.say``, ``content.texts``, a ``t``/``texts`` alias, and the small helpers
that pass a key on, such as ``_t(content, key, **params)``), its key (a string, either
branch of ``a if c else b``, a loop or comprehension over literals, or an f-string family
resolved against its known codes in ``FAMILIES``) and its keyword arguments (also through
``**`` of a dict built in the same function). Dotted strings naming a text that are kept
as data (``BadArgument("tally.bad_period", ...)``, a CSV error tuple) count as uses too.

(a) a key a feature of ``bot/flows`` uses lives in that feature's text file (its
``Feature.texts``) or in ``texts/shared.yaml``; keys of the other modules live in the file
``OTHER_TEXTS`` gives them, or the shared one;
(b) every key used exists;
(c) at every call, the template's placeholders are exactly what the code passes: nothing
missing (a KeyError in front of a user), nothing passed for nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from bot.content import DEFAULT_CONTENT_DIR, Content
from bot.domain import pii
from bot.domain.report_parser import ISSUE_CODES
from bot.flows.commands import READERS
from bot.flows.registry import FEATURE_MODULES, FEATURES, SHARED_TEXTS
from bot.handlers.telegram import MENU_ORDER
from bot.services.export_report import STATUS_CODES

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"

# The text file of each module outside the feature modules of bot/flows (a folder: every
# module in it). A module of bot/flows that is no feature (the engine, the context, paging)
# uses shared texts only.
OTHER_TEXTS = {
    "bot/services/announcements.py": "texts/announce.yaml",
    "bot/services/reminders.py": "texts/deadlines.yaml",
    "bot/services/cycle.py": "texts/cycle.yaml",
    "bot/services/chart.py": "texts/tally.yaml",
    "bot/services/export.py": "texts/export.yaml",
    "bot/services/export_rows.py": "texts/export.yaml",
    "bot/services/export_report.py": "texts/export.yaml",
    "bot/services/export_xlsx.py": "texts/export.yaml",
    "bot/services/export_docx.py": "texts/export.yaml",
    "bot/domain/tally.py": "texts/tally.yaml",
    "bot/services/targets.py": "texts/cli.yaml",  # `tcns targets import`
    "bot/handlers/": "texts/channels.yaml",
    "bot/services/quota.py": "texts/channels.yaml",
    "bot/cli/": "texts/cli.yaml",
}

# f-string keys and the codes they are filled with. A new family fails the test until it is
# named here with its codes (taken from the code where the code has them).
FAMILIES: dict[str, tuple[str, ...]] = {
    "parse_errors.{}": ISSUE_CODES,
    "roles.{}": tuple(sorted(READERS)),  # every registered role
    "help.{}": tuple(sorted(READERS)),
    "bad_input.kinds.{}": (pii.ID_NUMBER, pii.PHONE),
    "commands.{}": (*MENU_ORDER, "start"),
    "villages.examples.{}": ("doiten", "so", "an", "hien"),  # bot/flows/villages.py, /thon
    "reminders_cli.steps.{}": ("digest", "before", "confirm", "eve", "due", "overdue"),
    "reminders_cli.statuses.{}": ("pending", "sending", "sent", "blocked", "expired", "skipped", "uncertain"),
    "errors.try.{}": tuple(sorted(READERS)),
    "join_steps.{}": tuple(sorted(READERS)),
    "smalltalk.next.{}": ("guest", *sorted(READERS)),
    "admin.channel_names.{}": ("telegram", "zalo", "terminal"),
    "corrections.sources.{}": ("text", "buttons", "proxy"),  # reports.source
    "export.status.{}": STATUS_CODES,  # a village's line in the filed report
    "reminders.{}": ("before", "eve", "eve_leader"),  # the members' steps of the ladder
    "bad_input.cli_{}": ("bad_code", "no_name", "name_too_long", "personal_data"),  # bot/cli/admin.py
    "bad_input.csv_{}": ("bad_code", "no_name", "name_too_long", "personal_data"),
    # The actions /nhatky names by their own key (bot/flows/admin.py, log_text).
    "admin.log.{}": ("commune_add", "village_add", "village_an", "village_hien"),
}

# Calls whose keyword arguments come from elsewhere than the call (``**`` of a value the test
# cannot follow): the placeholders are checked against the arguments that are visible only.
OPEN_CALLS = {
    ("bot/cli/admin.py", "bad_input.cli_{}"): "the parameters come with the problem, from _unit_problem",
    # The key and its parameters come from read_villages_csv's error tuples (their keys are found as data).
    ("bot/cli/admin.py", "runtime.content.texts(key)"): "",
}

_KEY_SHAPE = re.compile(r"^[a-z_]+(?:\.[a-z0-9_]+)+$")
_FILE = re.compile(r"\.(?:yaml|csv|xlsx|png|db|py)$")


class Unresolved(Exception):
    """An expression the test cannot turn into keys or parameters."""


@dataclass
class Use:
    module: str
    line: int
    keys: tuple[str, ...]
    params: frozenset[str] | None  # None: some come through a ``**`` the test cannot follow
    explicit: frozenset[str] = frozenset()
    family: str = ""  # the f-string family it was built from, if any
    data: bool = False  # a key kept as data (its arguments are passed elsewhere)


@dataclass(frozen=True)
class Sink:
    """One text a wrapper renders with the key it is given."""

    template: str  # "{}", or the f-string it makes of the key: "targets.errors.{}"
    fixed: frozenset[str]  # what it passes to the template itself
    passes_on: bool  # it passes its **params to the template


@dataclass
class Wrapper:
    """A function that renders the text whose key it is given: ``_t(content, key, **params)``."""

    index: int  # the key's position among the arguments
    name: str  # the key's parameter name
    own: frozenset[str]  # the function's own parameters (not passed to the template)
    sinks: set[Sink] = field(default_factory=set)


@dataclass
class Module:
    path: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (module path, name)
    wrappers: dict[str, Wrapper] = field(default_factory=dict)


@cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted(BOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        module = Module(rel, ast.parse(path.read_text(encoding="utf-8")))
        for node in ast.walk(module.tree):
            for child in ast.iter_child_nodes(node):
                module.parents[child] = node
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                source = node.module.replace(".", "/")
                for alias in node.names:
                    target = f"{source}.py" if (ROOT / f"{source}.py").exists() else f"{source}/__init__.py"
                    module.imports[alias.asname or alias.name] = (target, alias.name)
        found[rel] = module
    _find_wrappers(found)
    return found


# Text calls --------------------------------------------------------------------------------------
def _wrapper_of(module: Module, call: ast.Call, all_modules: dict[str, Module]) -> Wrapper | None:
    if not isinstance(call.func, ast.Name):
        return None
    name = call.func.id
    if name in module.wrappers:
        return module.wrappers[name]
    if name in module.imports:
        source, original = module.imports[name]
        if source in all_modules:
            return all_modules[source].wrappers.get(original)
    return None


def _is_text_call(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr == "texts" or (func.attr in ("t", "say") and isinstance(func.value, ast.Name)
                                        and func.value.id in ("ctx", "self"))  # a Context's
    return isinstance(func, ast.Name) and func.id in ("t", "texts")


def _text_calls(module: Module, all_modules: dict[str, Module]) -> Iterator[tuple[ast.Call, Wrapper | None]]:
    """Every call that renders a text, with the wrapper it goes through (None: a direct call)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            wrapper = _wrapper_of(module, node, all_modules)
            if wrapper is not None or (_is_text_call(node) and (node.args or node.keywords)):
                yield node, wrapper


def _key_arg(call: ast.Call, wrapper: Wrapper | None) -> ast.expr | None:
    index, name = (wrapper.index, wrapper.name) if wrapper else (0, "")
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name and name), None)


def _function_of(module: Module, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in module.parents:
        node = module.parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in (*function.args.posonlyargs, *function.args.args)]


def _sinks(call: ast.Call, inner: Wrapper | None, kwargs: str | None) -> set[Sink]:
    """What a text call renders: itself, or each text of the wrapper it calls."""
    explicit = frozenset(k.arg for k in call.keywords if k.arg and (inner is None or k.arg not in inner.own))
    passes_on = any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwargs for k in call.keywords)
    if inner is None:
        return {Sink("{}", explicit, passes_on)}
    return {Sink(s.template, explicit | s.fixed, passes_on and s.passes_on) for s in inner.sinks}


def _find_wrappers(all_modules: dict[str, Module]) -> None:
    """Functions that hand one of their parameters to a text call as its key, to a fixed point."""
    changed = True
    while changed:
        changed = False
        for module in all_modules.values():
            for call, inner in list(_text_calls(module, all_modules)):
                function = _function_of(module, call)
                key = _key_arg(call, inner)
                if function is None or key is None:
                    continue
                names = _parameters(function)
                if isinstance(key, ast.Name) and key.id in names:
                    param, shape = key.id, "{}"
                elif (isinstance(key, ast.JoinedStr) and len(holes := _holes(key)) == 1
                      and isinstance(holes[0], ast.Name) and holes[0].id in names):
                    param, shape = holes[0].id, _family(key)
                else:
                    continue
                kwargs = function.args.kwarg.arg if function.args.kwarg else None
                own = frozenset([*names, *(a.arg for a in function.args.kwonlyargs)])
                wrapper = module.wrappers.setdefault(function.name, Wrapper(names.index(param), param, own))
                assert wrapper.name == param, f"{module.path}: {function.name} passes two parameters as keys"
                sinks = {Sink(s.template.replace("{}", shape), s.fixed, s.passes_on)
                         for s in _sinks(call, inner, kwargs)}
                if not sinks <= wrapper.sinks:
                    wrapper.sinks |= sinks
                    changed = True


# Keys ---------------------------------------------------------------------------------------------
def _holes(node: ast.JoinedStr) -> list[ast.expr]:
    return [part.value for part in node.values if isinstance(part, ast.FormattedValue)]


def _family(node: ast.JoinedStr) -> str:
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


def _strings(module: Module, node: ast.expr, at: ast.AST) -> set[str]:
    """The strings ``node`` can be, at ``at``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(module, node.body, at) | _strings(module, node.orelse, at)
    if isinstance(node, ast.JoinedStr):
        results = {""}
        for part in node.values:
            parts = {part.value} if isinstance(part, ast.Constant) else _strings(module, part.value, at)
            results = {r + p for r in results for p in parts}
        return results
    if isinstance(node, ast.Name):
        found = set()
        for value in _bindings(module, node.id, at):
            found |= _strings(module, value, at)
        return found
    raise Unresolved(ast.unparse(node))


def _bindings(module: Module, name: str, at: ast.AST) -> list[ast.expr]:
    """What ``name`` may be bound to at ``at``: its assignments in the enclosing function (or the
    module), a loop or comprehension over literals, a module-level name it imports."""
    node: ast.AST | None = at
    while node is not None:
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            for generator in node.generators:
                if found := _unpack(module, generator.target, generator.iter, name, at):
                    return found
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
            values: list[ast.expr] = []
            for inner in ast.walk(node):
                targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target] if (
                    isinstance(inner, ast.AnnAssign) and inner.value is not None) else []
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    values.append(inner.value)  # type: ignore[attr-defined]
                elif isinstance(inner, ast.For | ast.AsyncFor):
                    values += _unpack(module, inner.target, inner.iter, name, at)
            if values:
                return values
            if isinstance(node, ast.Module) and name in module.imports:
                source, original = module.imports[name]
                if source in modules():
                    return _bindings(modules()[source], original, modules()[source].tree)
        node = module.parents.get(node)
    raise Unresolved(name)


def _unpack(module: Module, target: ast.expr, iterable: ast.expr, name: str, at: ast.AST) -> list[ast.expr]:
    """The values ``name`` takes when ``target`` runs over ``iterable`` (a literal, or a name of one)."""
    if isinstance(target, ast.Name):
        position = None if target.id == name else -1
    elif isinstance(target, ast.Tuple):
        names = [t.id if isinstance(t, ast.Name) else "" for t in target.elts]
        position = names.index(name) if name in names else -1
    else:
        return []
    if position == -1:
        return []
    items = _items(module, iterable, at)
    if position is None:
        return items
    return [item.elts[position] for item in items if isinstance(item, ast.Tuple | ast.List)]


def _items(module: Module, node: ast.expr, at: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return list(node.elts)
    if isinstance(node, ast.Dict):
        return [k for k in node.keys if k is not None]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
        mapping = _literal(module, node.func.value, at)
        if isinstance(mapping, ast.Dict) and node.func.attr == "items":
            return [ast.Tuple([k, v]) for k, v in zip(mapping.keys, mapping.values, strict=True) if k is not None]
        if isinstance(mapping, ast.Dict) and node.func.attr in ("keys", "values"):
            return [x for x in (mapping.keys if node.func.attr == "keys" else mapping.values) if x is not None]
    if isinstance(node, ast.Name) and (bound := _literal(module, node, at)) is not node:
        return _items(module, bound, at)
    return []


def _literal(module: Module, node: ast.expr, at: ast.AST) -> ast.expr:
    if isinstance(node, ast.Name):
        try:
            bound = _bindings(module, node.id, at)
        except Unresolved:
            return node
        return bound[0] if len(bound) == 1 else node
    return node


def _keys_of(module: Module, key: ast.expr, template: str, at: ast.AST) -> tuple[tuple[str, ...], str]:
    """The keys a key expression stands for, and its family when it is an f-string of one."""
    try:
        return tuple(sorted(template.replace("{}", s) for s in _strings(module, key, at))), ""
    except Unresolved:
        if not isinstance(key, ast.JoinedStr):
            raise
    family = template.replace("{}", _family(key))
    if family not in FAMILIES:
        raise Unresolved(f"{family} (name its codes in FAMILIES)")
    return tuple(family.replace("{}", code) for code in FAMILIES[family]), family


# Parameters ---------------------------------------------------------------------------------------
def _dict_keys(module: Module, node: ast.expr, at: ast.AST) -> frozenset[str]:
    """The keys of the mapping ``**node`` passes: a dict literal, or a call of a function of this
    module that returns one."""
    node = _literal(module, node, at)
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return frozenset(k.value for k in node.keys)  # type: ignore[union-attr]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return frozenset(k.arg for k in node.keywords if k.arg)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        for function in ast.walk(module.tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and function.name == node.func.id:
                returns = [r.value for r in ast.walk(function) if isinstance(r, ast.Return) and r.value is not None]
                if returns:
                    return frozenset().union(*(_dict_keys(module, r, r) for r in returns))
    raise Unresolved(ast.unparse(node))


def _params_of(module: Module, call: ast.Call, wrapper: Wrapper | None,
               sink: Sink) -> tuple[frozenset[str] | None, frozenset[str]]:
    """What the call fills the template with (None when a ``**`` hides some), and what it names."""
    own = wrapper.own if wrapper else frozenset()
    explicit = frozenset(k.arg for k in call.keywords if k.arg and k.arg not in own)
    params: frozenset[str] | None = sink.fixed | (explicit if wrapper is None or sink.passes_on else frozenset())
    for keyword in call.keywords:
        if keyword.arg is None and (wrapper is None or sink.passes_on):
            try:
                params = None if params is None else params | _dict_keys(module, keyword.value, call)
            except Unresolved:
                params = None
    return params, explicit


# Uses ---------------------------------------------------------------------------------------------
def _wrapper_body(module: Module, call: ast.Call, inner: Wrapper | None) -> bool:
    """A call inside a wrapper that passes the wrapper's own key on: its callers are the uses."""
    function = _function_of(module, call)
    key = _key_arg(call, inner)
    return function is not None and function.name in module.wrappers and key is not None and any(
        isinstance(n, ast.Name) and n.id == module.wrappers[function.name].name for n in ast.walk(key))


def _data_keys(module: Module, node: ast.expr, sections: set[str]) -> tuple[tuple[str, ...], str] | None:
    """A dotted string naming a text, kept as data (an error's key in a tuple, a BadArgument)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text, family = node.value, ""
    elif isinstance(node, ast.JoinedStr):
        text = family = _family(node)
    else:
        return None
    if not _KEY_SHAPE.match(text.replace("{}", "x")) or _FILE.search(text) or text.split(".", 1)[0] not in sections:
        return None
    if not family:
        return (text,), ""
    if family not in FAMILIES:
        raise AssertionError(f"{module.path}:{node.lineno}: name the codes of {family} in FAMILIES")
    return tuple(family.replace("{}", code) for code in FAMILIES[family]), family


@cache
def uses() -> tuple[Use, ...]:
    every: list[Use] = []
    sections = {key.split(".", 1)[0] for key in shipped().texts}
    for module in modules().values():
        seen: set[int] = set()
        calls = list(_text_calls(module, modules()))
        for call, wrapper in calls:
            key = _key_arg(call, wrapper)
            if key is None:
                continue
            seen |= {id(n) for n in ast.walk(key)}
            if _wrapper_body(module, call, wrapper):
                continue
            for sink in wrapper.sinks if wrapper else {Sink("{}", frozenset(), False)}:
                try:
                    keys, family = _keys_of(module, key, sink.template, call)
                except Unresolved as exc:
                    if (module.path, f"{ast.unparse(call.func)}({ast.unparse(key)})") in OPEN_CALLS:
                        continue  # its keys are kept as data: found below
                    raise AssertionError(f"{module.path}:{call.lineno}: cannot tell which text {exc} is") from None
                params, explicit = _params_of(module, call, wrapper, sink)
                every.append(Use(module.path, call.lineno, keys, params, explicit, family))
        if not calls:
            continue  # no module that renders no text keeps keys as data (the loader names files)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.JoinedStr):
                seen |= {id(n) for n in ast.walk(node) if n is not node}
        for node in ast.walk(module.tree):
            if id(node) not in seen and isinstance(node, ast.expr):
                found = _data_keys(module, node, sections)
                if found is not None:
                    every.append(Use(module.path, node.lineno, found[0], None, frozenset(), found[1], data=True))
    return tuple(every)


@cache
def shipped() -> Content:
    return Content(DEFAULT_CONTENT_DIR)


def _allowed_files(module: str) -> set[str]:
    features = {f"{m.__name__.replace('.', '/')}.py": m.FEATURE.texts for m in FEATURE_MODULES}
    if module in features:
        return {features[module], SHARED_TEXTS}
    if module.startswith("bot/flows/"):
        return {SHARED_TEXTS}
    for prefix, texts in OTHER_TEXTS.items():
        if module == prefix or (prefix.endswith("/") and module.startswith(prefix)):
            return {texts, SHARED_TEXTS}
    raise AssertionError(f"{module} uses texts: name its text file in OTHER_TEXTS")


# The tests ----------------------------------------------------------------------------------------
def test_the_analysis_sees_the_code() -> None:
    """Guards the analysis itself: it finds the calls of every layer and follows the helpers."""
    found = {(u.module, k) for u in uses() for k in u.keys}
    assert ("bot/flows/report.py", "report.confirm") in found
    assert ("bot/services/export_xlsx.py", "export.sheet_period_line") in found  # through _t(content, key)
    assert ("bot/services/targets.py", "targets.errors.header") in found  # through err(key), an f-string
    assert ("bot/cli/admin.py", "admin_cli.backed_up") in found  # through _say -> say -> texts
    assert ("bot/flows/engine.py", "menu.report") in found  # a loop over the registry's MENU
    assert ("bot/flows/tally.py", "tally.bad_period") in found  # kept as data in BadArgument
    assert len({k for _, k in found}) > 400


def test_every_feature_file_exists() -> None:
    files = {f"texts/{path.name}" for path in (DEFAULT_CONTENT_DIR / "texts").glob("*.yaml")}
    declared = {f.texts for f in FEATURES} | {SHARED_TEXTS} | set(OTHER_TEXTS.values())
    assert declared <= files
    assert files <= declared, f"text files no feature or module declares: {sorted(files - declared)}"


def test_every_key_lives_in_its_features_file_or_the_shared_one() -> None:
    texts = shipped().texts
    wrong = []
    for use in uses():
        allowed = _allowed_files(use.module)
        for key in use.keys:
            if key in texts:
                where = texts.file_of(key).relative_to(DEFAULT_CONTENT_DIR).as_posix()
                if where not in allowed:
                    wrong.append(f"{use.module}:{use.line} {key} is in {where}, not in {' or '.join(sorted(allowed))}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_every_key_used_exists() -> None:
    texts = shipped().texts
    missing = sorted({f"{use.module}:{use.line} {key}" for use in uses() for key in use.keys if key not in texts})
    assert not missing, "\n".join(missing)


def test_every_text_is_used() -> None:
    used = {key for use in uses() for key in use.keys}
    unused = sorted(set(shipped().texts) - used)
    assert not unused, f"texts no code uses: {unused}"


def test_placeholders_match_the_arguments_at_every_call() -> None:
    texts = shipped().texts
    wrong = []
    for use in uses():
        keys = [k for k in use.keys if k in texts]
        if not keys or use.data:
            continue
        union = frozenset().union(*(texts.placeholders(k) for k in keys))
        if use.params is None:
            assert (use.module, use.family) in OPEN_CALLS, (
                f"{use.module}:{use.line}: the arguments of {keys[0]} come through a ** the test cannot follow")
        for key in keys:
            missing = texts.placeholders(key) - (use.params if use.params is not None else union)
            if missing:
                wrong.append(f"{use.module}:{use.line} {key}: not filled: {sorted(missing)}")
        unused = (use.params if use.params is not None else use.explicit) - union
        if unused:
            wrong.append(f"{use.module}:{use.line} {keys[0]}: passed for nothing: {sorted(unused)}")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_used(family: str) -> None:
    """A family named here that the code no longer builds is a stale entry."""
    assert any(use.family == family for use in uses()), family
