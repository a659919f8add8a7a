package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A shift leader opens an action from a machine's page, fills in the form,
// then marks the action done through its edit form: the page's script
// speaks to the actions API, and the list shows the done action with its
// history and the effect table.
func TestBrowserActionForm(t *testing.T) {
	f := data(t)
	tb := browse(t, f, leaderUser, 1280, 900, false)
	tb.open("/machines/L2/M02?lang=en", true)
	tb.Do(chromedp.Click(`#open-action`), chromedp.WaitReady(`#action-new`))
	tb.Do(chromedp.SendKeys(`#action-new textarea[name="what"]`, "align the press tool"),
		chromedp.SendKeys(`#action-new input[name="owner"]`, "kai"),
		chromedp.Click(`#action-new button`))
	if err := within(tb, `document.body.dataset.ready === 'yes' && !document.getElementById('action-new') && [...document.querySelectorAll('#actions td.what')].some(td => td.innerText.includes('align the press tool'))`); err != nil {
		t.Fatalf("the new action is not listed: %v", err)
	}
	id := eval[string](tb, `[...document.querySelectorAll('#actions tr[data-action]')].find(tr => tr.innerText.includes('align the press tool')).dataset.action`)
	if got := eval[string](tb, `document.querySelector('tr[data-action="`+id+`"]').dataset.status`); got != "open" {
		t.Fatalf("status %q", got)
	}
	eval[bool](tb, `(() => { const f = document.querySelector('form.action-edit[data-id="`+id+`"]');
		f.closest('details').open = true; f.elements.status.value = 'done'; f.elements.note.value = 'tool aligned'; f.requestSubmit(); return true })()`)
	if err := within(tb, `document.body.dataset.ready === 'yes' && (document.querySelector('tr[data-action="`+id+`"]')||{dataset:{}}).dataset.status === 'done'`); err != nil {
		t.Fatalf("the action is not done: %v", err)
	}
	row := eval[string](tb, `document.querySelector('tr[data-action="`+id+`"]').textContent`)
	for _, want := range []string{"L2 / M02", "kai", "done", "tool aligned", "Run hours per day", "after window not complete yet"} {
		if !strings.Contains(row, want) {
			t.Errorf("row lacks %q: %s", want, row)
		}
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Errorf("console: %s", strings.Join(errs, "\n"))
	}
}

// within polls expr until it holds, across the page loads a form's script
// causes (a poll is cut short when the page navigates).
func within(tb *tab, expr string) error {
	var err error
	for range 5 {
		if err = tb.Within(10*time.Second, expr); err == nil || !(strings.Contains(err.Error(), "navigated") || strings.Contains(err.Error(), "context")) {
			return err
		}
	}
	return err
}
