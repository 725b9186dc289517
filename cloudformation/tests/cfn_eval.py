"""A small evaluator of CloudFormation conditions and intrinsic functions, for static tests.

It covers what the rmq templates use (Ref, Fn::If, Fn::Select, Fn::Join, Fn::Sub, AWS::NoValue in
lists, Fn::Equals/Not/And/Or, Condition, and the Rules section); anything it cannot resolve is
returned as a ("unresolved", expr) tuple.
"""
import re
from typing import Any

NO_VALUE = ("AWS::NoValue",)


def conditions(template: dict[str, Any], values: dict[str, Any]) -> dict[str, bool]:
    """Evaluate every entry of the Conditions section for the given parameter values."""
    params = parameter_values(template, values)
    section = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def cond(name: str) -> bool:
        if name not in done:
            done[name] = truth(section[name])
        return done[name]

    def truth(expr: Any) -> bool:
        (fn, args), = expr.items()
        if fn == "Condition":
            return cond(args)
        if fn == "Fn::Equals":
            a, b = (resolve(x, {}, params) for x in args)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        raise ValueError(f"unsupported condition function {fn}")

    return {name: cond(name) for name in section}


def parameter_values(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
    out.update(values)
    for name, spec in template.get("Parameters", {}).items():
        if spec["Type"].startswith("List<") and isinstance(out.get(name), str):
            out[name] = out[name].split(",")
    return out


def rule_failures(template: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The AssertDescription of every assertion of the Rules section that the values fail."""
    params = parameter_values(template, values)

    def truth(expr: Any) -> bool:
        (fn, args), = expr.items()
        if fn == "Fn::Equals":
            a, b = (resolve(x, {}, params) for x in args)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        raise ValueError(f"unsupported rule function {fn}")

    failed = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not truth(rule["RuleCondition"]):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not truth(a["Assert"])]
    return failed


def resolve(expr: Any, conds: dict[str, bool], params: dict[str, Any]) -> Any:
    if isinstance(expr, list):
        return [v for v in (resolve(x, conds, params) for x in expr) if v != NO_VALUE]
    if not isinstance(expr, dict):
        return expr
    if len(expr) != 1 or not next(iter(expr)).startswith(("Fn::", "Ref")):
        # A plain mapping (a resource's properties, a policy statement): resolve its values.
        out = {k: resolve(v, conds, params) for k, v in expr.items()}
        return {k: v for k, v in out.items() if v != NO_VALUE}
    (fn, args), = expr.items()
    if fn == "Ref" and args == "AWS::NoValue":
        return NO_VALUE
    if fn == "Ref":
        return params.get(args, ("unresolved", expr))
    if fn == "Fn::Sub":
        text, names = (args, {}) if isinstance(args, str) else args
        local = {k: resolve(v, conds, params) for k, v in names.items()}
        values = {name: local[name] if name in local else params.get(name, ("unresolved", name))
                  for name in re.findall(r"\$\{([^}!]+)\}", text)}
        if any(isinstance(v, tuple) for v in values.values()):
            return ("unresolved", expr)
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(values[m.group(1)]), text)
    if fn == "Fn::If":
        name, yes, no = args
        return resolve(yes if conds[name] else no, conds, params)
    if fn == "Fn::Select":
        index, items = resolve(args[0], conds, params), resolve(args[1], conds, params)
        return items[int(index)]
    if fn == "Fn::Join":
        sep, items = args
        return sep.join(str(x) for x in resolve(items, conds, params))
    return ("unresolved", expr)
