package web_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
)

// tokensConformance exercises the token routes for TestOpenAPIServer.
func tokensConformance(t *testing.T, c *checker) {
	t.Helper()
	ctx := context.Background()
	other, raw, err := c.in.App.DB.NewAPIToken(ctx, "site backend")
	if err != nil {
		t.Fatal(err)
	}
	// The other token is used once, so its last use shows.
	c.do(request{method: "GET", tmpl: "/lists", path: "/lists", token: raw}, 200)

	list := c.do(request{method: "GET", tmpl: "/tokens", path: "/tokens"}, 200)
	data, _ := get(list, "data").([]any)
	var found any
	for _, d := range data {
		if get(d, "id") == json.Number(strconv.FormatInt(other.ID, 10)) {
			found = d
		}
		if get(d, "hash") != nil || get(d, "token") != nil {
			t.Errorf("GET /tokens shows a token or its hash: %v", d)
		}
	}
	if found == nil || get(found, "name") != "site backend" || get(found, "last_used_at") == nil || get(found, "role") != "admin" {
		t.Fatalf("GET /tokens: the new token (id %d) is missing or incomplete: %v", other.ID, list)
	}

	c.do(request{method: "DELETE", tmpl: "/tokens/{id}", path: "/tokens/" + strconv.FormatInt(other.ID, 10)}, 204)
	c.fail(request{method: "GET", tmpl: "/lists", path: "/lists", token: raw}, 401, "")
	c.fail(request{method: "DELETE", tmpl: "/tokens/{id}", path: "/tokens/" + strconv.FormatInt(other.ID, 10)}, 404, "")
	c.fail(request{method: "DELETE", tmpl: "/tokens/{id}", path: "/tokens/first"}, 404, "")
	if n := len(get(c.do(request{method: "GET", tmpl: "/tokens", path: "/tokens"}, 200), "data").([]any)); n != len(data)-1 {
		t.Errorf("after revoking: %d tokens, want %d", n, len(data)-1)
	}
}
