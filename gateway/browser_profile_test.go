package gateway

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserProfileAndOrganizationName: a person gives their name in the
// settings, in French, and renames their organization from its page
// (issue 17, CONTRACT §9b), in a real browser.
func TestBrowserProfileAndOrganizationName(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := newBrowserHarness(t)
	a := h.createAccount("anna@example.com", "correct horse battery")
	org, err := h.accounts.CreateOrganization(context.Background(), "Acme", a.ID, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := artifactDir(t)
	ctx := newChrome(t)
	var name, orgTitle string
	run(t, ctx, "sign in",
		chromedp.Navigate(h.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "anna@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		waitPath("/consoles"),
	)
	run(t, ctx, "give a name, in French",
		chromedp.Navigate(h.base+"/settings?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Anna Karénine"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Votre nom a été enregistré.")]`)),
		shot(t, dir, "profile-1-name-saved-fr"),
	)
	name, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#name").value`))
	if err != nil {
		t.Fatal(err)
	}
	if name != "Anna Karénine" {
		t.Fatalf("the name field shows %q after saving", name)
	}
	if got, err := h.accounts.AccountByID(context.Background(), a.ID); err != nil || got.Name != "Anna Karénine" {
		t.Fatalf("stored name: %+v %v", got, err)
	}
	run(t, ctx, "rename the organization",
		chromedp.Navigate(h.base+"/orgs/"+org.ID+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`#org-name`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.querySelector("#org-name").value = "") === ""`)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(`#org-name`), "Acme Corporation"),
		chromedp.Submit(chromedp.CSS(`#org-name`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "The organization was renamed.")]`)),
		shot(t, dir, "profile-2-organization-renamed"),
	)
	orgTitle, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if orgTitle != "Acme Corporation" {
		t.Fatalf("the organization page is titled %q", orgTitle)
	}
}
