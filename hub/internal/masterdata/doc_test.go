package masterdata

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/master-data.md lists every column of every entity, in the spec's
// order, with whether it is required and what it holds as the spec says.
func TestDocsListEveryColumn(t *testing.T) {
	b, err := os.ReadFile("../../../docs/master-data.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, e := range Entities {
		head := fmt.Sprintf("### `%s`\n", e)
		i := strings.Index(doc, head)
		if i < 0 {
			t.Errorf("no section %q", strings.TrimSpace(head))
			continue
		}
		section := doc[i+len(head):]
		if j := strings.Index(section, "\n#"); j >= 0 {
			section = section[:j]
		}
		var rows []string
		for _, l := range strings.Split(section, "\n") {
			if strings.HasPrefix(l, "| `") {
				rows = append(rows, l)
			}
		}
		var want []string
		for _, c := range specs[e].Columns {
			req := "|"
			if c.Required {
				req = "yes |"
			}
			want = append(want, fmt.Sprintf("| `%s` | %s %s |", c.Name, req, c.Doc))
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the docs list\n%s\nthe spec says\n%s", e, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}
