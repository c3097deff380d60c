package gateway

import (
	"net/http"

	"unigate/session"
)

// One sign-up (CONTRACT §5 /signup): the address is proven by a code before
// the account exists; the answer never says whether the address is taken
// (the owner of a taken address is mailed instead, ASVS V6.3.8).

// startSignup opens a sign-up for r (login.StartSignup) and gives this host its cookie.
func (s *Server) startSignup(w http.ResponseWriter, r *http.Request, rawEmail, password string) error {
	l, err := s.openingLogin(r)
	if err != nil {
		return err
	}
	l.Locale = s.locale(r)
	res, err := s.login.StartSignup(r.Context(), l, rawEmail, password, s.opening(r, ""))
	_, err = s.afterStep(w, r, l, res, err)
	return err
}

func (s *Server) apiSignup(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.startSignup(w, r, req.Email, req.Password); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"next": session.StepVerifyEmail})
	return nil
}

// signupPage is the /signup page: the form, then the code.
type signupPage struct {
	Step   string // "form" or "verify"
	Email  string
	Error  string
	MinLen int
}

func (s *Server) pageSignup(w http.ResponseWriter, r *http.Request) {
	page := signupPage{Step: "form", MinLen: s.cfg.Login.PasswordMinLength}
	if cur, err := s.loadSession(r); err == nil && cur != nil && cur.sess.Next == session.StepVerifyEmail {
		page.Step, page.Email = "verify", cur.sess.Email
	}
	s.render(w, r, http.StatusOK, "signup", page)
}

func (s *Server) pageSignupSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	page := signupPage{Step: "form", Email: f.Get("email"), MinLen: s.cfg.Login.PasswordMinLength}
	var err error
	switch f.Get("step") {
	case "verify":
		page.Step = "verify"
		var res *stepResult
		if res, err = s.runStep(w, r, f.Get("code"), s.login.VerifySignup); err == nil {
			target := "/consoles"
			if res.Next != session.StepDone {
				target = "/login"
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if cur, _ := s.loadSession(r); cur != nil {
			page.Email = cur.sess.Email
		}
	default:
		if err = s.startSignup(w, r, f.Get("email"), f.Get("password")); err == nil {
			http.Redirect(w, r, "/signup", http.StatusSeeOther)
			return
		}
	}
	ae := describe(err)
	if ae.Status >= 500 {
		s.errorPage(w, r, err)
		return
	}
	page.Error = ae.Message
	s.render(w, r, ae.Status, "signup", page)
}
