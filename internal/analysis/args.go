package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// Args are the resolved values of a run's arguments. Secrets lists the values that came
// from Secrets: they are substituted into metrics but replaced by "*****" wherever the
// engine writes text into the status.
type Args struct {
	Values  map[string]string
	Secrets []string
}

// Redacted is what a secret value becomes in messages and metadata.
const Redacted = "*****"

// Redact replaces every secret value in s.
func (a Args) Redact(s string) string {
	for _, secret := range a.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Redacted)
		}
	}
	return s
}

// ResolveMetric substitutes {{args.NAME}} placeholders into every string of a metric. The
// metric goes through JSON and each value is inserted JSON-escaped, so quotes, backslashes
// and newlines in a value can neither break the document nor inject fields; integers
// written as placeholders (count: "{{args.n}}") come back as strings that IntOrString
// reads. A placeholder naming an argument without a value is an error; other {{...}}
// text (Go templates in a query, experiment variables) is left alone.
func ResolveMetric(m v1alpha1.Metric, values map[string]string) (v1alpha1.Metric, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return v1alpha1.Metric{}, err
	}
	if !bytes.Contains(raw, []byte("{{")) {
		return m, nil
	}
	out, err := substitute(string(raw), func(name string) (string, bool) {
		v, ok := values[name]
		if !ok {
			return "", false
		}
		return jsonEscape(v), true
	})
	if err != nil {
		return v1alpha1.Metric{}, err
	}
	var resolved v1alpha1.Metric
	if err := json.Unmarshal([]byte(out), &resolved); err != nil {
		return v1alpha1.Metric{}, fmt.Errorf("metric %q after substituting its arguments: %w", m.Name, err)
	}
	return resolved, nil
}

// ResolveString substitutes {{args.NAME}} placeholders into plain text, unescaped.
func ResolveString(s string, values map[string]string) (string, error) {
	return substitute(s, func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	})
}

// substitute replaces each {{ args.NAME }} tag (spaces inside the braces allowed) by
// lookup(NAME).
func substitute(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			break
		}
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			break
		}
		tag := s[open+2 : open+2+end]
		b.WriteString(s[:open])
		s = s[open+2+end+2:]
		name, isArg := strings.CutPrefix(strings.TrimSpace(tag), "args.")
		if !isArg {
			b.WriteString("{{" + tag + "}}")
			continue
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("failed to resolve {{args.%s}}", name)
		}
		b.WriteString(v)
	}
	b.WriteString(s)
	return b.String(), nil
}

// jsonEscape returns v as the inside of a JSON string literal.
func jsonEscape(v string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	out := strings.TrimSuffix(buf.String(), "\n")
	return out[1 : len(out)-1]
}

// ArgValues reads the values of arguments that carry one inline. Arguments taken from a
// Secret or a field are resolved by the controller, which reads the cluster, and passed
// in resolved; ArgValues leaves them out.
func ArgValues(args []v1alpha1.Argument) map[string]string {
	out := make(map[string]string, len(args))
	for _, a := range args {
		if a.Value != nil {
			out[a.Name] = *a.Value
		}
	}
	return out
}
