package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// The segments on the overview (machines) and the operators page are the
// API's for the same month: the count of each segment, and one row per
// declining or at-risk entity with its reason, with an open-action link for
// a shift leader and none for a viewer.
func TestSegmentsOnPages(t *testing.T) {
	f := data(t)
	leader, viewer := f.client(t, leaderUser), f.client(t, viewerUser)
	var months struct{ Months []string }
	getJSON(t, leader, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2]
	var sj api.SegmentsJSON
	getJSON(t, leader, f.srv.URL+"/api/v1/months/"+month+"/segments", &sj)
	registered := len(f.cfg.Equipment())
	for _, c := range []struct{ kind, path string }{{segment.Equipment, "/"}, {segment.Operator, "/operators"}} {
		counts, watch := map[string]int{}, 0
		total := 0
		for _, a := range sj.Assignments {
			if a.Kind == c.kind && a.Site == f.cfg.Site {
				counts[a.Segment]++
				total++
				if a.Segment == segment.Declining || a.Segment == segment.AtRisk {
					watch++
				}
			}
		}
		if c.kind == segment.Equipment && total != registered {
			t.Errorf("%d machines with a segment, %d registered", total, registered)
		}
		if total == 0 {
			t.Fatalf("no %s assignments: %+v", c.kind, sj)
		}
		t.Logf("%s %s: %v, %d to watch", month, c.kind, counts, watch)
		_, body := get(t, leader, f.srv.URL+c.path+"?lang=en&month="+month, "")
		block := regexp.MustCompile(`(?s)<section class="segments" id="segments-` + c.kind + `">.*?</section>`).FindString(body)
		if block == "" {
			t.Fatalf("%s: no segments block", c.path)
		}
		for _, s := range segment.Names {
			want := fmt.Sprintf(`data-segment="%s"><div class="k">%s</div><div class="v" data-fig="count">%d</div>`, s, sharedCats(t)["en"]["segments.name."+s], counts[s])
			if !strings.Contains(block, want) {
				t.Errorf("%s: want %s in %s", c.path, want, block)
			}
		}
		if got := strings.Count(block, `<tr data-id=`); got != watch {
			t.Errorf("%s: %d watch rows, want %d", c.path, got, watch)
		}
		if got := len(regexp.MustCompile(`<a class="button" href="/actions\?[^"]*new=segment`).FindAllString(block, -1)); got != watch {
			t.Errorf("%s: %d open-action links for a shift leader, want %d", c.path, got, watch)
		}
		for _, a := range sj.Assignments {
			if a.Kind == c.kind && (a.Segment == segment.Declining || a.Segment == segment.AtRisk) {
				if !strings.Contains(block, escaped(a.Reason.Text("en"))) {
					t.Errorf("%s: reason of %s missing: %s", c.path, a.ID, a.Reason.Text("en"))
				}
			}
		}
		_, body = get(t, viewer, f.srv.URL+c.path+"?lang=en&month="+month, "")
		if strings.Contains(body, `href="/actions?new=`) {
			t.Errorf("%s: a viewer gets open-action links", c.path)
		}
	}
}

// A line's page shows its machines' segments and the moves of its machines
// only; a machine's page its own segment with the reason.
func TestSegmentsOfLineAndMachine(t *testing.T) {
	f := data(t)
	c := f.client(t, leaderUser)
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2]
	var sj api.SegmentsJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+month+"/segments", &sj)
	counts, moves := map[string]int{}, 0
	var m06 *api.SegmentJSON
	for i, a := range sj.Assignments {
		if a.Kind == segment.Equipment && a.Line == "L2" {
			counts[a.Segment]++
			if a.ID == "M06" {
				m06 = &sj.Assignments[i]
			}
		}
	}
	for _, tr := range sj.Transitions {
		if tr.Kind == segment.Equipment && tr.Line == "L2" {
			moves += tr.Count
		}
	}
	if m06 == nil || m06.Segment != segment.AtRisk || moves != 6 {
		t.Fatalf("L2/M06 %+v, %d moves on L2 (6 machines)", m06, moves)
	}
	_, body := get(t, c, f.srv.URL+"/lines/L2?lang=en&month="+month, "")
	block := regexp.MustCompile(`(?s)<section class="segments" id="segments-equipment">.*?</section>`).FindString(body)
	for _, s := range segment.Names {
		if want := fmt.Sprintf(`data-segment="%s"><div class="k">%s</div><div class="v" data-fig="count">%d</div>`, s, sharedCats(t)["en"]["segments.name."+s], counts[s]); !strings.Contains(block, want) {
			t.Errorf("line page: want %s", want)
		}
	}
	sum := 0
	for _, n := range regexp.MustCompile(`<td data-to="[a-z_]+">(\d+)</td>`).FindAllStringSubmatch(block, -1) {
		var v int
		fmt.Sscan(n[1], &v)
		sum += v
	}
	if sum != moves || !strings.Contains(block, `<tr data-id="M06" data-segment="at_risk">`) {
		t.Errorf("line page: %d moves in the table, want %d; M06 listed: %v", sum, moves, strings.Contains(block, `data-id="M06"`))
	}
	_, body = get(t, c, f.srv.URL+"/machines/L2/M06?lang=zh-CN&month="+month, "")
	if want := `<span class="seg at_risk">有风险</span> · R` + fmt.Sprint(m06.Scores.Recency); !strings.Contains(body, want) || !strings.Contains(body, escaped(m06.ReasonText["zh-CN"])) {
		t.Errorf("machine page lacks %s or the reason %s", want, m06.ReasonText["zh-CN"])
	}
}

// escaped escapes s as html/template writes text.
func escaped(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "+", "&#43;").Replace(s)
}

func send(t *testing.T, c *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An action opened and done through the API shows on the actions page with
// its history and its effect table; a viewer may read but not open one.
func TestActionsPage(t *testing.T) {
	f := data(t)
	leader, viewer := f.client(t, leaderUser), f.client(t, viewerUser)
	if code, body := send(t, viewer, "POST", f.srv.URL+"/api/v1/actions", `{"what":"x","owner":"y","due":"2026-12-31","subject":{"kind":"line","line":"L1"}}`); code != http.StatusForbidden {
		t.Fatalf("viewer opens an action: %d %s", code, body)
	}
	code, body := send(t, leader, "POST", f.srv.URL+"/api/v1/actions", `{"what":"check the coolant pump","owner":"jo","due":"2026-12-31","subject":{"kind":"machine","line":"L2","equipment":"M01"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var a action.JSON
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, leader, "PATCH", f.srv.URL+"/api/v1/actions/"+a.ID, `{"status":"done","note":"pump replaced"}`); code != 200 {
		t.Fatalf("done: %d %s", code, body)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		_, page := get(t, viewer, f.srv.URL+"/actions?lang="+lang, "")
		row := regexp.MustCompile(`(?s)<tr data-action="` + a.ID + `" data-status="done">.*?</tr>\n?</tbody></table>\n<small>`).FindString(page)
		if row == "" || !strings.Contains(row, "check the coolant pump") || !strings.Contains(row, "pump replaced") ||
			!strings.Contains(row, `<table class="effect-table" data-complete="false">`) {
			t.Errorf("%s: action row %q", lang, row)
		}
		if strings.Contains(page, `class="action-edit"`) {
			t.Errorf("%s: a viewer gets the edit form", lang)
		}
	}
	_, page := get(t, leader, f.srv.URL+"/actions?lang=en&new=event&event=e1", "")
	if !strings.Contains(page, `id="action-new" data-kind="event"`) || !strings.Contains(page, `class="action-edit" data-id="`+a.ID+`"`) {
		t.Errorf("leader: no new-action or edit form")
	}
	_, page = get(t, leader, f.srv.URL+"/actions?lang=en&new=machine&line=L1&equipment=M01", "")
	if !strings.Contains(page, `data-action="`+a.ID+`"`) {
		t.Errorf("the new-action form's subject filters the list")
	}
	_, page = get(t, leader, f.srv.URL+"/actions?lang=en&status=open", "")
	if strings.Contains(page, `data-action="`+a.ID+`"`) {
		t.Errorf("the status filter keeps a done action")
	}
}
