package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/webui"
)

// startServerWith is startServer with a public URL (given to
// server.Options and webui.Options), over TLS when tls is set (with the
// client that trusts its certificate).
func startServerWith(t *testing.T, publicURL string) string {
	url, _ := startServerTLS(t, publicURL, false)
	return url
}

func startServerTLS(t *testing.T, publicURL string, tls bool) (string, *http.Client) {
	t.Helper()
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hosting.New(hosting.Options{Storage: files})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: h, ErrorLog: t.Logf, PublicURL: publicURL,
		Pages: webui.New(webui.Options{ErrorLog: t.Logf, PublicURL: publicURL})})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s)
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts.URL, ts.Client()
}

// privateRepo pushes a fed round to base/lab/secret, owned by key 1, and
// makes it private.
func privateRepo(t *testing.T, base string) {
	t.Helper()
	r, _ := fedRound(t)
	push(t, r, base+"/lab/secret")
	c, err := remote.New(base+"/lab/secret", remote.Options{Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	private := false
	if _, err := c.UpdateSettings(context.Background(), remote.SettingsUpdate{Public: &private}); err != nil {
		t.Fatal(err)
	}
}

// pageSignIn signs in to base's pages as k (a challenge, signed, posted
// to /-/signin with header hdr), returning the answer.
func pageSignIn(t *testing.T, base string, k *objects.Keypair, hdr map[string]string) *http.Response {
	t.Helper()
	var ch remote.Challenge
	post(t, base+remote.PathPrefix+"login/challenge", remote.ChallengeRequest{Address: k.Public().String()}, &ch)
	b, _ := json.Marshal(remote.LoginRequest{Address: k.Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(k.Sign([]byte(ch.Message)))})
	req, _ := http.NewRequest(http.MethodPost, base+server.PageSignInPath, bytes.NewReader(b))
	req.Header.Set("Content-Type", remote.MediaJSON)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// getCookie fetches url with the session cookie v.
func getCookie(t *testing.T, url, v string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.AddCookie(&http.Cookie{Name: server.PageCookie, Value: v})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sessionCookie(resp *http.Response) *http.Cookie { return namedCookie(resp, server.PageCookie) }

func namedCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// pageSignOut posts /-/signout with header hdr.
func pageSignOut(t *testing.T, base string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+server.PageSignOutPath, strings.NewReader("{}"))
	req.Header.Set("Content-Type", remote.MediaJSON)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// A page sign-in with a signed challenge from the server's own origin
// answers a session cookie (HttpOnly, SameSite=Strict, the token's
// lifetime) that the pages take as the key's and the protocol's
// endpoints do not; a sign-in from another origin, without an origin,
// cross-site, not as JSON or with a bad signature gets no cookie.
func TestPageSignIn(t *testing.T) {
	base := startServer(t)
	privateRepo(t, base)
	same := map[string]string{"Origin": base}

	resp := pageSignIn(t, base, key(1), same)
	c := sessionCookie(resp)
	if resp.StatusCode != 204 || c == nil {
		t.Fatalf("sign-in from %s: %s, cookies %v", base, resp.Status, resp.Cookies())
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.MaxAge != 3600 || len(c.Value) != 64 {
		t.Errorf("session cookie %s: want HttpOnly, SameSite=Strict, not Secure over http, Path=/, Max-Age=3600, 64 hex digits", resp.Header.Get("Set-Cookie"))
	}
	if a := namedCookie(resp, server.PageAddressCookie); a == nil || a.Value != key(1).Public().String() || a.HttpOnly || a.SameSite != http.SameSiteStrictMode || a.MaxAge != 3600 {
		t.Errorf("address cookie %+v: want the key, readable by the page's script, SameSite=Strict, Max-Age=3600", a)
	}
	// the address cookie is not a key: alone, it signs nobody in
	req0, _ := http.NewRequest(http.MethodGet, base+"/lab/secret", nil)
	req0.AddCookie(&http.Cookie{Name: server.PageAddressCookie, Value: key(1).Public().String()})
	if resp, err := http.DefaultClient.Do(req0); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 401 {
		t.Errorf("the address cookie alone on the private page: %s, want 401", resp.Status)
	}
	if code, body := getCookie(t, base+"/lab/secret", c.Value); code != 200 || !strings.Contains(body, "fedavg") && !strings.Contains(body, "merge") {
		t.Errorf("the owner's cookie on the private page: %d\n%s", code, body)
	}
	if idx := getJSONCookie[webui.IndexPage](t, base+"/?format=json", c.Value); len(idx.Repositories) != 1 {
		t.Errorf("server page to the owner's cookie: %+v", idx.Repositories)
	}
	// the API takes bearer tokens only: not the cookie, nor its value as a token
	api := base + remote.PathPrefix + "repos/lab/secret/-/refs"
	if code, _ := getCookie(t, api, c.Value); code != 401 {
		t.Errorf("the session cookie on the API: %d, want 401", code)
	}
	for _, tok := range []string{c.Value, "page:" + c.Value} {
		if code, _ := get(t, api, tok, ""); code != 401 {
			t.Errorf("the session cookie's value %.10s… as a bearer token: %d, want 401", tok, code)
		}
		if code, _ := get(t, base+"/lab/secret", tok, ""); code != 401 {
			t.Errorf("the session cookie's value %.10s… as a bearer token on a page: %d, want 401", tok, code)
		}
	}

	// an outsider's cookie: as absent; an unknown cookie: anonymous
	out := sessionCookie(pageSignIn(t, base, key(9), same))
	if out == nil {
		t.Fatal("no cookie for the outsider")
	}
	if code, _ := getCookie(t, base+"/lab/secret", out.Value); code != 404 {
		t.Errorf("an outsider's cookie on the private page: %d, want 404", code)
	}
	for _, v := range []string{strings.Repeat("0", 64), "not-a-token"} {
		if code, _ := getCookie(t, base+"/lab/secret", v); code != 401 {
			t.Errorf("cookie %q on the private page: %d, want 401", v, code)
		}
	}

	// refusals: no cookie
	for name, hdr := range map[string]map[string]string{
		"another origin":        {"Origin": "http://evil.example"},
		"the same host, https":  {"Origin": strings.Replace(base, "http:", "https:", 1)},
		"no origin":             {"Origin": ""},
		"a cross-site request":  {"Origin": base, "Sec-Fetch-Site": "cross-site"},
		"a same-site request":   {"Origin": base, "Sec-Fetch-Site": "same-site"},
		"a form, not JSON":      {"Origin": base, "Content-Type": "application/x-www-form-urlencoded"},
		"text/plain, not JSON ": {"Origin": base, "Content-Type": "text/plain"},
	} {
		resp := pageSignIn(t, base, key(1), hdr)
		want := 403
		if strings.Contains(name, "JSON") {
			want = 400
		}
		if resp.StatusCode != want || sessionCookie(resp) != nil || resp.Header.Get("Content-Type") != remote.MediaProblem {
			t.Errorf("sign-in from %s: %s (%s), cookie %v; want %d and no cookie", name, resp.Status, resp.Header.Get("Content-Type"), sessionCookie(resp), want)
		}
	}
	var ch remote.Challenge
	post(t, base+remote.PathPrefix+"login/challenge", remote.ChallengeRequest{Address: key(1).Public().String()}, &ch)
	b, _ := json.Marshal(remote.LoginRequest{Address: key(1).Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(key(9).Sign([]byte(ch.Message)))})
	req, _ := http.NewRequest(http.MethodPost, base+server.PageSignInPath, bytes.NewReader(b))
	req.Header.Set("Content-Type", remote.MediaJSON)
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || sessionCookie(resp) != nil {
		t.Errorf("sign-in with another key's signature: %s, cookie %v", resp.Status, sessionCookie(resp))
	}
	for _, path := range []string{server.PageSignInPath, server.PageSignOutPath} {
		if code, _ := get(t, base+path, "", ""); code != 405 {
			t.Errorf("GET %s: %d, want 405", path, code)
		}
	}
	// sign-out drops both cookies, when a page of this server asks
	if resp := pageSignOut(t, base, map[string]string{"Origin": "http://evil.example"}); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Errorf("sign-out from another origin: %s, cookies %v", resp.Status, resp.Cookies())
	}
	resp = pageSignOut(t, base, map[string]string{"Origin": base})
	sc, ac := sessionCookie(resp), namedCookie(resp, server.PageAddressCookie)
	if resp.StatusCode != 204 || sc == nil || sc.MaxAge >= 0 || sc.Value != "" || ac == nil || ac.MaxAge >= 0 {
		t.Errorf("sign-out: %s, cookies %v; want both removed", resp.Status, resp.Cookies())
	}
	// pages (a refusal, and a streamed commit page, too) allow no script
	// but the server's own, and no framing
	rp := getJSONCookie[webui.RepoPage](t, base+"/lab/secret?format=json", c.Value)
	for _, page := range []string{"/", "/lab/secret", rp.Commits[0].URL, "/lab/secret/-/rounds"} {
		req, _ = http.NewRequest(http.MethodGet, base+page, nil)
		req.AddCookie(c)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: %s, Content-Security-Policy %q", page, resp.Status, csp)
		}
	}
	if resp, err := http.Get(base + "/lab/secret"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self';") {
		t.Errorf("refused page: %s, Content-Security-Policy %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	// the script is served to anyone, as JavaScript
	if code, body := get(t, base+"/-/signin.js", "", ""); code != 200 || !strings.Contains(body, "solana:signMessage") {
		t.Errorf("/-/signin.js: %d", code)
	}
	if code, _ := get(t, base+"/-/nothing.js", "", ""); code != 404 {
		t.Errorf("/-/nothing.js: %d", code)
	}

	// signing out with the cookie ends the session at the server: the
	// cookie's value, kept by whoever copied it, signs nobody in any more
	req, _ = http.NewRequest(http.MethodPost, base+server.PageSignOutPath, strings.NewReader("{}"))
	req.Header.Set("Content-Type", remote.MediaJSON)
	req.Header.Set("Origin", base)
	req.AddCookie(c)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 204 {
		t.Fatalf("sign-out with the cookie: %s", resp.Status)
	}
	if code, _ := getCookie(t, base+"/lab/secret", c.Value); code != 401 {
		t.Errorf("the signed-out cookie on the private page: %d, want 401", code)
	}
	if code, _ := getCookie(t, base+"/lab/secret", out.Value); code != 404 {
		t.Errorf("another visitor's session after a sign-out: %d, want 404 (still signed in)", code)
	}
}

// Behind a reverse proxy (--public-url), a page sign-in must come from
// the public origin, and its cookie is Secure when that is https.
func TestPageSignInPublicURL(t *testing.T) {
	base := startServerWith(t, "https://fed.example.org")
	privateRepo(t, base)
	if resp := pageSignIn(t, base, key(1), map[string]string{"Origin": base}); resp.StatusCode != 403 || sessionCookie(resp) != nil {
		t.Errorf("sign-in from the server's own address behind a public URL: %s, want 403", resp.Status)
	}
	resp := pageSignIn(t, base, key(1), map[string]string{"Origin": "https://fed.example.org"})
	c := sessionCookie(resp)
	if resp.StatusCode != 204 || c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("sign-in from the public origin: %s, cookie %s", resp.Status, resp.Header.Get("Set-Cookie"))
	}
	if code, _ := getCookie(t, base+"/lab/secret", c.Value); code != 200 {
		t.Errorf("the cookie on the private page: %d", code)
	}
}

func getJSONCookie[T any](t *testing.T, url, cookie string) T {
	t.Helper()
	code, body := getCookie(t, url, cookie)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return v
}

// Over TLS the session cookie is Secure, and the sign-in must come from
// the https origin.
func TestPageSignInTLS(t *testing.T) {
	base, client := startServerTLS(t, "", true)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("not TLS: %s", base)
	}
	k := key(1)
	signIn := func(origin string) *http.Response {
		var ch remote.Challenge
		b, _ := json.Marshal(remote.ChallengeRequest{Address: k.Public().String()})
		resp, err := client.Post(base+remote.PathPrefix+"login/challenge", remote.MediaJSON, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		b, _ = json.Marshal(remote.LoginRequest{Address: k.Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(k.Sign([]byte(ch.Message)))})
		req, _ := http.NewRequest(http.MethodPost, base+server.PageSignInPath, bytes.NewReader(b))
		req.Header.Set("Content-Type", remote.MediaJSON)
		req.Header.Set("Origin", origin)
		if resp, err = client.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := signIn(strings.Replace(base, "https:", "http:", 1)); resp.StatusCode != 403 || sessionCookie(resp) != nil {
		t.Errorf("sign-in over TLS from the http origin: %s", resp.Status)
	}
	resp := signIn(base)
	if c := sessionCookie(resp); resp.StatusCode != 204 || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("sign-in over TLS: %s, cookie %s; want Secure, HttpOnly, SameSite=Strict", resp.Status, resp.Header.Get("Set-Cookie"))
	}
}
