package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/minilivechat/minilivechat/actors/msg"
	"github.com/minilivechat/minilivechat/admin"
	"github.com/minilivechat/minilivechat/admin/admintest"
)

func TestClientAgainstAPI(t *testing.T) {
	e := echo.New()
	admin.Mount(e, admin.Options{Backend: admintest.New(testNow), AdminToken: "tok"})
	srv := httptest.NewServer(e)
	defer srv.Close()
	ctx := context.Background()

	c := &admin.Client{BaseURL: srv.URL + "/", Token: "tok"}
	st, err := c.Status(ctx)
	if err != nil || st.Channels != 3 || st.Version != "v-test" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	ch, err := c.Channel(ctx, "CH_0001")
	if err != nil || len(ch.Peers) != 2 || *ch.Floor.Holder != "swift_falcon_4821" {
		t.Fatalf("Channel = %+v, %v", ch, err)
	}
	res, err := c.RevokeFloor(ctx, "CH_0001")
	if err != nil || res.RevokedFrom == nil || *res.RevokedFrom != "swift_falcon_4821" {
		t.Fatalf("RevokeFloor = %+v, %v", res, err)
	}

	// Server errors keep the HTTP status and the server's code and sentence.
	_, err = c.User(ctx, "ghost")
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != msg.CodeNoSuchUser || ae.ErrorBody.Error == "" {
		t.Errorf("User(ghost) error = %#v", err)
	}
	_, err = (&admin.Client{BaseURL: srv.URL}).Peers(ctx)
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != admin.CodeUnauthorized {
		t.Errorf("Peers without token error = %#v", err)
	}
	// A revoke is a POST; a GET is no route at all.
	_, err = c.Raw(ctx, http.MethodGet, admin.FloorRevokePath("CH_0001"))
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != admin.CodeNotFound {
		t.Errorf("GET floor-revoke error = %#v", err)
	}
}

func TestClientReadsForeignErrorBodies(t *testing.T) {
	// A reverse proxy's HTML page, or echo's own {"message": …}.
	for _, c := range []struct{ body, want string }{
		{"<html>bad gateway</html>", "Bad Gateway"},
		{`{"message":"upstream said no"}`, "upstream said no"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(c.body))
		}))
		_, err := (&admin.Client{BaseURL: srv.URL}).Status(context.Background())
		srv.Close()
		var ae *admin.APIError
		if !errors.As(err, &ae) || ae.Status != 502 || ae.ErrorBody.Error != c.want {
			t.Errorf("body %q: error = %#v, want message %q", c.body, err, c.want)
		}
	}
}

func TestClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = (&admin.Client{BaseURL: "http://" + addr}).Status(context.Background())
	var ue *admin.UnreachableError
	if !errors.As(err, &ue) || ue.BaseURL != "http://"+addr {
		t.Errorf("error = %#v, want *UnreachableError", err)
	}
}
