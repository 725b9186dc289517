package main

// Grafana dashboards: the PromQL expressions of their panels, and the substitution of Grafana's
// template variables that makes those expressions parseable by Prometheus' own parser.
//
// Grafana replaces `$name`, `${name}`, `${name:format}` and `[[name]]` before it sends a query.
// Prometheus never sees them, so each is replaced here by a stand-in of the right syntactic kind
// (see substitute): what matters is that the result parses exactly when the query Grafana would
// send parses, and that no stand-in is taken for a metric name.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// GrafanaVarPrefix starts the stand-in identifier of a variable used where PromQL expects a
// name (a metric or label name); metric names with it are not checked against scrapes.
const GrafanaVarPrefix = "grafana_var_"

// Stand-ins for Grafana's built-in variables: durations, and numbers in milliseconds or seconds.
var builtinValues = map[string]string{
	"__interval":         "5m",
	"__rate_interval":    "5m",
	"__range":            "5m",
	"__auto":             "5m",
	"__interval_ms":      "300000",
	"__rate_interval_ms": "300000",
	"__range_ms":         "300000",
	"__range_s":          "300",
	"__from":             "1700000000000",
	"__to":               "1700000000000",
}

// A variable reference: `${name}`, `${name:format}`, `$name` or `[[name]]`, `[[name:format]]`.
// Names start with a letter or `_`, so `$1` (a label_replace back-reference) is never one.
var varRef = regexp.MustCompile(`^(?:\$\{([A-Za-z_]\w*)(?::([^}]*))?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::([^\]]*))?\]\])`)

// Vars says which names are template variables of a dashboard and which of them hold
// durations (type `interval`). A nil Defined means every name is a variable (an expression file
// has no variable list).
type Vars struct {
	Defined   map[string]bool
	Intervals map[string]bool
}

func (v Vars) isVar(name string) bool {
	if _, ok := builtinValues[name]; ok {
		return true
	}
	return v.Defined == nil || v.Defined[name] || strings.HasPrefix(name, "__")
}

// Substitute replaces the Grafana variables in a PromQL expression by stand-ins:
//   - built-ins: $__interval, $__rate_interval, $__range -> 5m; their _ms/_s forms -> numbers;
//     $__from, $__to -> a timestamp in ms (in s with the format `date:seconds`);
//   - a variable of type interval -> 5m;
//   - any other variable inside a string literal -> `.+` (valid as a regex and as text);
//     inside [...] (a range or subquery) or after `offset` -> 5m;
//     elsewhere -> the identifier grafana_var_<name> (a metric or label name; not checked).
//
// Names that vars does not define are left as they are, as Grafana leaves them (so a query that
// uses an undefined variable outside a string fails to parse, as it would in Prometheus).
func Substitute(expr string, vars Vars) string {
	var out strings.Builder
	var quote byte // the open string literal's quote, or 0
	depth := 0     // [...] nesting outside strings
	for i := 0; i < len(expr); {
		c := expr[i]
		if quote != 0 && (c == quote || (c == '\\' && quote != '`' && i+1 < len(expr))) {
			if c == quote {
				quote = 0
			} else { // an escape: the next byte cannot close the string
				out.WriteByte(c)
				i++
				c = expr[i]
			}
			out.WriteByte(c)
			i++
			continue
		}
		if c == '$' || (c == '[' && strings.HasPrefix(expr[i:], "[[")) {
			if m := varRef.FindStringSubmatch(expr[i:]); m != nil {
				name, format := m[1]+m[3]+m[4], m[2]+m[5]
				if vars.isVar(name) {
					out.WriteString(standIn(name, format, vars, quote != 0, depth > 0 || afterOffset(out.String())))
					i += len(m[0])
					continue
				}
			}
		}
		if quote == 0 {
			switch c {
			case '"', '\'', '`':
				quote = c
			case '[':
				depth++
			case ']':
				depth = max(depth-1, 0)
			}
		}
		out.WriteByte(c)
		i++
	}
	return out.String()
}

// afterOffset is true if the text so far ends with the `offset` keyword (a duration follows).
func afterOffset(before string) bool {
	t := strings.ToLower(strings.TrimRight(before, " \t\n"))
	if !strings.HasSuffix(t, "offset") {
		return false
	}
	rest := t[:len(t)-len("offset")]
	return rest == "" || !isNameByte(rest[len(rest)-1])
}

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// standIn is the text that replaces variable name (with Grafana format `format`).
func standIn(name, format string, vars Vars, inString, wantsDuration bool) string {
	if v, ok := builtinValues[name]; ok {
		if (name == "__from" || name == "__to") && strings.HasPrefix(format, "date:seconds") {
			return v[:len(v)-3]
		}
		return v
	}
	switch {
	case vars.Intervals[name]:
		return "5m"
	case inString:
		return ".+"
	case wantsDuration:
		return "5m"
	default:
		return GrafanaVarPrefix + name
	}
}

// Dashboard is what promcheck reads of a Grafana dashboard: its panels' PromQL expressions
// (with where each came from) and its template variables.
type Dashboard struct {
	Exprs []LabelledExpr
	Vars  Vars
}

// LabelledExpr is a PromQL expression and a human label of where it came from.
type LabelledExpr struct {
	Where string
	Expr  string
}

type grafanaPanel struct {
	Title   string            `json:"title"`
	Targets []grafanaTarget   `json:"targets"`
	Panels  []json.RawMessage `json:"panels"`
}

type grafanaTarget struct {
	Expr  string `json:"expr"`
	RefID string `json:"refId"`
	Hide  bool   `json:"hide"`
}

type grafanaDashboard struct {
	Panels     []json.RawMessage `json:"panels"`
	Rows       []grafanaPanel    `json:"rows"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

// ParseDashboard reads the PromQL expressions of every panel's targets (also panels inside
// collapsed rows, and the old `rows` layout) and the template variables of a dashboard JSON.
// Targets without `expr` (other data sources) are skipped; template variable queries
// (label_values(...)) are Grafana's own syntax, not PromQL, and are not read.
func ParseDashboard(data []byte) (Dashboard, error) {
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return Dashboard{}, fmt.Errorf("not a Grafana dashboard JSON: %w", err)
	}
	out := Dashboard{Vars: Vars{Defined: map[string]bool{}, Intervals: map[string]bool{}}}
	for _, v := range d.Templating.List {
		out.Vars.Defined[v.Name] = true
		if v.Type == "interval" {
			out.Vars.Intervals[v.Name] = true
		}
	}
	if err := collectPanels(d.Panels, &out.Exprs); err != nil {
		return Dashboard{}, err
	}
	for _, r := range d.Rows {
		if err := collectPanels(r.Panels, &out.Exprs); err != nil {
			return Dashboard{}, err
		}
	}
	return out, nil
}

func collectPanels(raw []json.RawMessage, into *[]LabelledExpr) error {
	for _, r := range raw {
		var p grafanaPanel
		if err := json.Unmarshal(r, &p); err != nil {
			return fmt.Errorf("a dashboard panel is not an object with title/targets: %w", err)
		}
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) != "" {
				*into = append(*into, LabelledExpr{Where: fmt.Sprintf("panel %q target %s", p.Title, t.RefID), Expr: t.Expr})
			}
		}
		if err := collectPanels(p.Panels, into); err != nil {
			return err
		}
	}
	return nil
}
