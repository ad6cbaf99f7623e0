package api

import (
	"fmt"
	"strings"
)

// FieldsMarkdown renders the supported-fields table as the Markdown of
// docs/fields.md; a test keeps the file equal to it, so the document cannot drift
// from what the decoder enforces.
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Supported manifest fields\n\n")
	b.WriteString("<!-- Generated from api/fields.go: run `go test ./api -run TestFieldsDoc -update` after changing it. -->\n\n")
	b.WriteString("Keelson reads `v1` Pod, Service and ReplicationController objects (and `kind: List` of them).\n")
	b.WriteString("A field that a manifest sets and that is not listed here is an error naming the field:\n")
	b.WriteString("Keelson never silently drops what it does not implement. `[*]` stands for every list item,\n")
	b.WriteString("`[key]` for one map key; a row covers everything below its path. Null values, and empty\n")
	b.WriteString("maps or lists on the way to a listed field (such as `resources: {}`), are not \"set\".\n")
	for _, k := range SupportedFields() {
		fmt.Fprintf(&b, "\n## %s\n\n", k.Kind)
		b.WriteString("| field | support | values | notes |\n| --- | --- | --- | --- |\n")
		for _, r := range k.Rules {
			values := ""
			if r.Values != nil {
				values = strings.Join(quoteAll(r.Values), ", ")
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Path, r.Support, mdEscape(values), mdEscape(r.Note))
		}
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
