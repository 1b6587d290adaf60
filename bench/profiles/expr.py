"""Safe formulas for profile values: `link_mtu - 40`, `2 * TCP_MSL / 1000`.

Profiles are data, so a formula must never run arbitrary code: this walks the Python
AST and allows only arithmetic, comparisons, conditionals, lists, indexing and a few
pure functions. Names come from the profile's consts, the DUT's consts and the test's
context (see `bench.profiles.resolve`).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

MAX_LIST = 1000  # a schedule longer than this is a typo, not a TCP stack


class ExprError(ValueError):
    """A formula is malformed, uses something not allowed, or cannot be evaluated."""


class UnknownName(ExprError):
    """A formula names something neither the consts nor the context define."""

    def __init__(self, name: str):
        super().__init__(f"needs {name!r}, which neither the DUT's consts nor the context give")
        self.name = name


def backoff(
    first: float, count: int, linear: int = 0, factor: float = 2, cap: float | None = None
) -> list[float]:
    """`count` timer intervals: `linear`+1 of them at `first`, then each `factor` times
    the one before, never above `cap`.

    Why this shape: it is how stacks back off. Linux SYN with tcp_syn_linear_timeouts=4:
    backoff(1, 10, linear=4, cap=120) = 1, 1, 1, 1, 1, 2, 4, 8, 16, 32; lwIP SYN_SENT
    (no backoff): backoff(3, 6, factor=1) = 3, 3, 3, 3, 3, 3.
    """
    count = int(count)
    if not 0 <= count <= MAX_LIST:
        raise ExprError(f"backoff count {count} is out of range 0..{MAX_LIST}")
    out: list[float] = []
    current = first
    for i in range(count):
        out.append(current)
        if i >= linear:
            current = current * factor
            if cap is not None:
                current = min(current, cap)
    return out


def within(intervals: list[float], limit: float) -> list[float]:
    """The leading intervals whose running total stays below `limit`: the retransmissions
    a stack makes before a separate timeout (lwIP's TCP_SYN_RCVD_TIMEOUT) removes it."""
    out: list[float] = []
    total = 0.0
    for interval in intervals:
        total += interval
        if total >= limit:
            break
        out.append(interval)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "bool": bool,
    "sum": sum,
    "len": len,
    "backoff": backoff,
    "within": within,
}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.IfExp,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.keyword,
    ast.Subscript,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
)


def parse(text: str) -> ast.Expression:
    """Parse and vet a formula without evaluating it (so a profile fails at load time)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"formula {text!r} is not valid: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"formula {text!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
        ):
            raise ExprError(
                f"formula {text!r} calls something other than {', '.join(sorted(FUNCTIONS))}"
            )
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            raise ExprError(f"formula {text!r} slices a list; index one element instead")
    return tree


def names_in(text: str) -> set[str]:
    """Every name a formula reads (function names excluded)."""
    tree = parse(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """Evaluate a vetted formula with `names`; raise ExprError on any problem."""
    tree = parse(text)
    try:
        return _eval(tree.body, names)
    except ExprError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError) as exc:
        raise ExprError(f"formula {text!r} failed: {exc}") from None


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            if name not in names:
                raise UnknownName(name)
            return names[name]
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _eval(left, names), _eval(right, names)
            if isinstance(op, ast.Pow) and abs(b) > 64:
                raise ExprError(f"exponent {b} is too large")
            result = _BINARY[type(op)](a, b)
            if isinstance(result, list) and len(result) > MAX_LIST:
                raise ExprError(f"a list of {len(result)} elements is too long")
            return result
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](_eval(operand, names))
        case ast.BoolOp(op=ast.And(), values=values):
            result: Any = True
            for v in values:
                result = _eval(v, names)
                if not result:
                    return result
            return result
        case ast.BoolOp(op=ast.Or(), values=values):
            result = False
            for v in values:
                result = _eval(v, names)
                if result:
                    return result
            return result
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            a = _eval(left, names)
            for op, right in zip(ops, comparators, strict=True):
                b = _eval(right, names)
                if not _COMPARE[type(op)](a, b):
                    return False
                a = b
            return True
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return _eval(body, names) if _eval(test, names) else _eval(orelse, names)
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return [_eval(e, names) for e in elts]
        case ast.Subscript(value=value, slice=index):
            return _eval(value, names)[int(_eval(index, names))]
        case ast.Call(func=ast.Name(id=fname), args=args, keywords=keywords):
            values = [_eval(a, names) for a in args]
            kwargs = {k.arg: _eval(k.value, names) for k in keywords if k.arg}
            return FUNCTIONS[fname](*values, **kwargs)
    raise ExprError(f"{type(node).__name__} is not allowed in a formula")
