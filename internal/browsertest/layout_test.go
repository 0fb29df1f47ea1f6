package browsertest

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/chromedp/chromedp"
)

// box is an element's (or its text's) rectangle, as Chromium lays it out.
type box struct {
	Top, Bottom, Lines float64
}

// textBox measures the first element matching sel and the text inside it:
// the element's box, the text's box (a Range over its contents) and how
// many line boxes the text takes.
func textBox(tb *tab, sel string) (el, text box) {
	tb.t.Helper()
	q, _ := json.Marshal(sel)
	got := run(tb, "measure "+sel, chromedp.Evaluate[[]box](fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		if (!el) return [];
		const r = el.getBoundingClientRect();
		const range = document.createRange();
		range.selectNodeContents(el);
		const t = range.getBoundingClientRect();
		const lines = new Set([...range.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size;
		return [{Top: r.top, Bottom: r.bottom, Lines: 1}, {Top: t.top, Bottom: t.bottom, Lines: lines}];
	})()`, q)))
	if len(got) != 2 {
		tb.t.Fatalf("no element %s on %s", sel, tb.location())
	}
	return got[0], got[1]
}

// TestLayout checks what only a browser shows: the demo app's "Connect an
// account" label is vertically centred in its button, and on a phone the
// console's account column keeps each account id on one line (it used to
// break mid-word: "ringcentra/l/1001").
func TestLayout(t *testing.T) {
	s := mockSetup(t)
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		t.Run(vp.name, func(t *testing.T) {
			tb := newBrowserWindow(t)
			tb.do("viewport", chromedp.EmulateViewport(vp.w, vp.h))
			s.signIn(tb, demoUser)
			button, label := textBox(tb, selConnect)
			gap := (label.Top - button.Top) - (button.Bottom - label.Bottom)
			if math.Abs(gap) > 1.5 {
				t.Errorf("Connect label not centred: %.1f px above it, %.1f px below", label.Top-button.Top, button.Bottom-label.Bottom)
			}

			tb.click(selConnect)
			s.login(tb)
			s.wantConnected(tb, "demo")
			tb.navigate(s.dev.URL + "/_dev")
			tb.wait(`section#connections code`)
			if _, account := textBox(tb, `section#connections td code`); account.Lines != 1 {
				t.Errorf("account id takes %.0f lines on a %d px screen, want 1", account.Lines, vp.w)
			}
			if txt := tb.text(); containsV1(txt) {
				t.Errorf("console shows an unexplained version marker:\n%s", txt)
			}
			tb.screenshot("console-" + vp.name)
		})
	}
}

// containsV1 reports whether text shows a bare "v1"-style version marker.
func containsV1(text string) bool {
	for i := 0; i+1 < len(text); i++ {
		if text[i] == 'v' && text[i+1] >= '0' && text[i+1] <= '9' && (i == 0 || text[i-1] == '\n' || text[i-1] == ' ') {
			return true
		}
	}
	return false
}
