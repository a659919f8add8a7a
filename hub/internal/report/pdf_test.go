package report

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
)

// The Chinese report prints to a valid PDF whose text is Chinese: its
// fonts are Noto CJK, and their character maps (ToUnicode, what a PDF
// reader extracts text with) hold every character of the title and of the
// headings. Characters that a missing font turned into boxes would have no
// entry there.
func TestPDFChinese(t *testing.T) {
	if _, err := Chromium(); errors.Is(err, ErrNoChromium) {
		t.Skip("no Chromium (make chromium installs it): ", err)
	}
	var html bytes.Buffer
	if err := HTML(&html, fixtureData(t), "zh-CN"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	pdf, err := PDF(ctx, html.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("printed %d bytes of PDF in %s", len(pdf), time.Since(start).Round(time.Millisecond))
	if dir := os.Getenv("REPORT_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(dir+"/report.zh-CN.pdf", pdf, 0o644)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
		t.Fatalf("not a PDF: %q ... %q", pdf[:min(16, len(pdf))], pdf[max(0, len(pdf)-16):])
	}
	if !regexp.MustCompile(`/Type\s*/Page\b`).Match(pdf) {
		t.Fatal("the PDF has no page")
	}
	// Chromium embeds the CFF-based Noto CJK as Type3 fonts, named in their descriptors.
	fonts := regexp.MustCompile(`/(?:BaseFont|FontName)\s*/([A-Za-z0-9+_-]+)`).FindAllSubmatch(pdf, -1)
	cjk := false
	var names []string
	for _, f := range fonts {
		names = append(names, string(f[1]))
		cjk = cjk || strings.Contains(string(f[1]), "CJK")
	}
	if !cjk {
		t.Fatalf("no Noto CJK font embedded; fonts: %v", names)
	}
	mapped := toUnicode(t, pdf)
	for _, text := range []string{"月度设备运行报告", "工厂与产线指标", "停机帕累托图", "操作员贡献", "本月事件", "非计划停机"} {
		for _, r := range text {
			if !mapped[r] {
				t.Fatalf("%q of %q is not text in the PDF (fonts %v)", r, text, names)
			}
		}
	}
	// And the check can fail: these are not in the Chinese report.
	for _, r := range "鑫龘" {
		if mapped[r] {
			t.Fatalf("%q mapped: the ToUnicode parse is too loose", r)
		}
	}
}

// toUnicode returns the characters the PDF's ToUnicode maps give glyphs
// to (bfchar and bfrange entries of every Flate stream that holds a CMap),
// NFKC-normalised: where Noto CJK shares a glyph between a Kangxi radical
// and the ideograph (⽉ U+2F49 and 月 U+6708), Chromium names the radical,
// and text extraction normalises it the same way.
func toUnicode(t *testing.T, pdf []byte) map[rune]bool {
	t.Helper()
	out := map[rune]bool{}
	streams := regexp.MustCompile(`(?s)stream\r?\n(.*?)\r?\nendstream`).FindAllSubmatch(pdf, -1)
	hex := regexp.MustCompile(`<([0-9A-Fa-f]+)>`)
	for _, s := range streams {
		zr, err := zlib.NewReader(bytes.NewReader(s[1]))
		if err != nil {
			continue
		}
		body, err := io.ReadAll(zr)
		if err != nil && len(body) == 0 {
			continue
		}
		text := string(body)
		if !strings.Contains(text, "begincmap") {
			continue
		}
		for _, blk := range regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`).FindAllStringSubmatch(text, -1) {
			vals := hex.FindAllStringSubmatch(blk[1], -1)
			for i := 1; i < len(vals); i += 2 {
				for _, r := range norm.NFKC.String(string(utf16Hex(vals[i][1]))) {
					out[r] = true
				}
			}
		}
		for _, blk := range regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`).FindAllStringSubmatch(text, -1) {
			for _, line := range strings.Split(blk[1], "\n") {
				vals := hex.FindAllStringSubmatch(line, -1)
				if len(vals) != 3 || strings.Contains(line, "[") {
					continue
				}
				lo, _ := strconv.ParseUint(vals[0][1], 16, 32)
				hi, _ := strconv.ParseUint(vals[1][1], 16, 32)
				dst := utf16Hex(vals[2][1])
				if len(dst) != 1 || hi < lo || hi-lo > 0xffff {
					continue
				}
				for i := uint64(0); i <= hi-lo; i++ {
					for _, r := range norm.NFKC.String(string(dst[0] + rune(i))) {
						out[r] = true
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no ToUnicode map in the PDF")
	}
	return out
}

// utf16Hex decodes a hex string of UTF-16BE code units.
func utf16Hex(h string) []rune {
	var units []uint16
	for i := 0; i+4 <= len(h); i += 4 {
		v, err := strconv.ParseUint(h[i:i+4], 16, 16)
		if err != nil {
			return nil
		}
		units = append(units, uint16(v))
	}
	var out []rune
	for i := 0; i < len(units); i++ {
		u := units[i]
		if u >= 0xD800 && u < 0xDC00 && i+1 < len(units) {
			out = append(out, (rune(u)-0xD800)<<10+(rune(units[i+1])-0xDC00)+0x10000)
			i++
			continue
		}
		out = append(out, rune(u))
	}
	return out
}
