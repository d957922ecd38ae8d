"""`calculator`: arithmetic without Python's eval (an AST walk over numbers, operators and math functions)."""

from __future__ import annotations

import ast
import math
import operator
from typing import Annotated

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {'sqrt': math.sqrt, 'sin': math.sin, 'cos': math.cos, 'tan': math.tan, 'asin': math.asin,
          'acos': math.acos, 'atan': math.atan, 'log': math.log, 'log10': math.log10, 'log2': math.log2,
          'exp': math.exp, 'abs': abs, 'round': round, 'floor': math.floor, 'ceil': math.ceil,
          'factorial': math.factorial, 'gcd': math.gcd, 'min': min, 'max': max, 'pow': pow}
_CONSTS = {'pi': math.pi, 'e': math.e, 'tau': math.tau}


class CalculatorError(ValueError):
    pass


def safe_eval(expression: str) -> int | float:
    """Evaluate arithmetic without Python's eval: numbers, + - * / // % **, parentheses, math functions."""
    if len(expression) > 500:
        raise CalculatorError('expression too long (max 500 characters)')
    text = expression.replace('^', '**').replace('×', '*').replace('÷', '/').strip()
    try:
        tree = ast.parse(text, mode='eval')
    except SyntaxError:
        raise CalculatorError(f'cannot parse expression: {expression}') from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value,
                                                                                                       bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or abs(left) > 1e6 and abs(right) > 10):
                raise CalculatorError('exponent too large')
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise CalculatorError('division by zero')
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTS:
            return _CONSTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            args = [ev(a) for a in node.args]
            if node.func.id == 'factorial' and (not args or args[0] > 1000):
                raise CalculatorError('factorial argument too large (max 1000)')
            try:
                return _FUNCS[node.func.id](*args)
            except (TypeError, ValueError) as exc:
                raise CalculatorError(f'{node.func.id}: {exc}') from None
        raise CalculatorError(f'unsupported syntax in expression: {ast.dump(node)[:60]}')

    value = ev(tree)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise CalculatorError('result is not a finite number')
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
        return round(value, 10)
    return value


class Calculator(AgentlabAction):
    """A calculator for arithmetic expressions."""

    @tool_api
    def run(self, expression: Annotated[str, 'arithmetic expression, e.g. (3+4)*2 or sqrt(2)/3']) -> dict:
        """Evaluate an arithmetic expression (+ - * / // % ** and math functions such as sqrt, log, sin).

        Args:
            expression (str): arithmetic expression, e.g. (3+4)*2 or sqrt(2)/3
        """
        return {'expression': expression, 'result': safe_eval(expression)}
