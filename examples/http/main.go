// Command http is the manual's HTTP server, plus a small site: a form, a
// file upload and a static directory.
//
//	go run ./http start          # in the foreground; start -d for a daemon
//	open http://127.0.0.1:8080/          -> hello, goer (the manual's example)
//	open http://127.0.0.1:8080/form      -> a form and an upload
//	open http://127.0.0.1:8080/static/   -> files from http/static
//	open http://127.0.0.1:8080/visits    -> 1, 2, 3, ...: this session's visits
//	open http://127.0.0.1:8080/login     -> log in and out (a session value)
//	go run ./http stop
//
// GOES_ADDR overrides the address (default 127.0.0.1:8080) and
// GOES_HTTP_STATIC the static directory; the command line is left to RunAll.
package main

import (
	"crypto/sha256"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"runtime"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	newGoer(addr, staticDir()).RunAll()
}

// staticDir is GOES_HTTP_STATIC, else the static folder next to this file
// (go run), else ./static.
func staticDir() string {
	if d := os.Getenv("GOES_HTTP_STATIC"); d != "" {
		return d
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "static")
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return "static"
}

// newGoer builds the server; main runs it, the test starts it.
func newGoer(addr, static string) *core.Goer {
	p := http.NewHttpProtocol()
	p.ServeDir("/static/", static)
	g := core.NewGoer(addr, p, "tcp")
	g.Name = "http-example"
	g.OnMessage = func(c core.Connection, data []byte) {
		req := http.RequestOf(c)
		var err error
		switch req.Path() {
		case "/form":
			err = form(c, req)
		case "/upload":
			err = upload(c, req)
		case "/visits":
			err = visits(c, req)
		case "/login", "/logout":
			err = login(c, req)
		default:
			// The manual's example: any other page says hello.
			err = c.Send("hello, goer", false)
		}
		if err != nil {
			// The response was not queued: end the connection rather than
			// leave this request (and any pipelined behind it) unanswered.
			g.Log().Warn("response not sent; closing", "path", req.Path(), "err", err)
			c.Close("")
		}
	}
	return g
}

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>goes</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1>goes HTTP example</h1>%s
<h2>Form</h2>
<form method="post" action="/form">
  <label>Name <input name="name" id="name"></label>
  <label>Colour <select name="colour" id="colour"><option>red</option><option>green</option></select></label>
  <button type="submit" id="send">Send</button>
</form>
<h2>Upload</h2>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file" id="file">
  <input name="note" id="note" placeholder="note">
  <button type="submit" id="upload">Upload</button>
</form>
<p><a href="/static/">static files</a></p>
</body></html>
`

func form(c core.Connection, req *http.Request) error {
	result := ""
	if req.Method() == "POST" {
		result = fmt.Sprintf(`<p id="result">Hello %s, you like %s.</p>`,
			html.EscapeString(req.FormValue("name")), html.EscapeString(req.FormValue("colour")))
	}
	return c.Send(fmt.Sprintf(page, result), false)
}

func upload(c core.Connection, req *http.Request) error {
	w := req.Response()
	if req.Method() != "POST" {
		return w.Redirect("/form", 303)
	}
	fh, err := req.FormFile("file")
	if err != nil {
		return w.Status(400).SendString(fmt.Sprintf(page, `<p id="result">No file: `+html.EscapeString(err.Error())+`</p>`))
	}
	sum, err := fileSum(fh)
	if err != nil {
		return w.Status(500).SendString(fmt.Sprintf(page, `<p id="result">Upload unreadable: `+html.EscapeString(err.Error())+`</p>`))
	}
	result := fmt.Sprintf(`<p id="result">Received %s (%d bytes, %s, sha256 %x). Note: %s</p>`,
		html.EscapeString(fh.Filename), fh.Size, html.EscapeString(fh.Header.Get("Content-Type")),
		sum[:8], html.EscapeString(req.FormValue("note")))
	return c.Send(fmt.Sprintf(page, result), false)
}

// fileSum hashes an uploaded file, which may be in memory or spooled to a
// temporary file; the protocol removes those after the response.
func fileSum(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// visits counts, in plain text, how often this session asked for the
// page: 1 for a new client, then 2, 3, ... while it sends its cookie.
func visits(c core.Connection, req *http.Request) error {
	w := req.Response().ContentType("text/plain; charset=utf-8")
	s, err := req.Session()
	if err != nil {
		return w.Status(503).SendString("sessions unavailable\n")
	}
	n := s.GetInt("visits") + 1
	s.Set("visits", n)
	return w.SendString(fmt.Sprintf("%d\n", n))
}

const loginPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>goes login</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><h1>Log in</h1>%s</body></html>
`

// login shows who is logged in, logs in a name (POST /login) and logs
// out (POST /logout). Logging in gives the session a new id.
func login(c core.Connection, req *http.Request) error {
	w := req.Response()
	s, err := req.Session()
	if err != nil {
		return w.Status(503).SendString(fmt.Sprintf(loginPage, `<p id="result">Sessions are unavailable.</p>`))
	}
	if req.Method() == "POST" {
		switch req.Path() {
		case "/login":
			if name := req.FormValue("name"); name != "" {
				s.Set("user", name)
				if err := s.RegenerateID(true); err != nil {
					return w.Status(500).SendString(err.Error())
				}
			}
		case "/logout":
			s.Destroy()
		}
		return w.Redirect("/login", 303)
	}
	if user := s.GetString("user"); user != "" {
		return c.Send(fmt.Sprintf(loginPage, `<p id="result">Logged in as `+html.EscapeString(user)+`.</p>
<form method="post" action="/logout"><button type="submit" id="logout">Log out</button></form>`), false)
	}
	return c.Send(fmt.Sprintf(loginPage, `<p id="result">Not logged in.</p>
<form method="post" action="/login"><label>Name <input name="name" id="name"></label>
<button type="submit" id="login">Log in</button></form>`), false)
}
