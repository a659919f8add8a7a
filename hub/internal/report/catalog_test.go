package report

import (
	"sort"
	"strings"
	"testing"
)

// Every language has every key, and no message is empty.
func TestCatalogComplete(t *testing.T) {
	all := map[string]bool{}
	for _, lang := range Languages {
		for k := range catalogs[lang] {
			all[k] = true
		}
	}
	if len(all) < 50 {
		t.Fatalf("only %d keys", len(all))
	}
	for _, lang := range Languages {
		var lacks []string
		for k := range all {
			if v, ok := catalogs[lang][k]; !ok || strings.TrimSpace(v) == "" {
				lacks = append(lacks, k)
			}
		}
		sort.Strings(lacks)
		if len(lacks) > 0 {
			t.Errorf("%s lacks %v", lang, lacks)
		}
	}
}

func TestLang(t *testing.T) {
	for _, c := range []struct{ param, accept, want string }{
		{"", "", "en"},
		{"zh-CN", "", "zh-CN"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
		{"", "zh", "zh-CN"},
		{"", "en-US,en;q=0.9,zh-CN;q=0.8", "en"},
		{"", "fr-FR, zh-Hans;q=0.5", "zh-CN"},
		{"", "zh-TW", "en"},
		{"en", "zh-CN", "en"},
		{"xx", "zh-CN", "zh-CN"},
		{"", "en;q=0.2, zh-CN;q=0.9", "zh-CN"},
	} {
		if got := Lang(c.param, c.accept); got != c.want {
			t.Errorf("Lang(%q, %q) = %s, want %s", c.param, c.accept, got, c.want)
		}
	}
}

func TestNum(t *testing.T) {
	c := catalog("en")
	for v, want := range map[float64]string{0: "0.0", 1234.56: "1,234.6", 999.94: "999.9", 1e6: "1,000,000.0", -1234.5: "-1,234.5", -0.01: "0.0"} {
		if got := c.Num(v); got != want {
			t.Errorf("Num(%v) = %s, want %s", v, got, want)
		}
	}
	if got := catalog("zh-CN").MonthName(2026, 10); got != "2026年10月" {
		t.Errorf("zh-CN month name %s", got)
	}
	if got := catalog("en").MonthName(2026, 10); got != "October 2026" {
		t.Errorf("en month name %s", got)
	}
}
