package mail
import "testing"
func BenchmarkRenderX(b *testing.B) {
	r, _ := NewRenderer("Accounts <no-reply@example.com>")
	for b.Loop() {
		raw, err := r.Render(KindAccountExists, "fr", "alice@example.com", AccountExistsData{SignInURL: "https://account.example.com/login"})
		if err != nil { b.Fatal(err) }
		b.SetBytes(int64(len(raw)))
	}
}
