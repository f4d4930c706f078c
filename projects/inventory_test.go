package projects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/endpoint"
)

// TestInventoryConcurrencyBound checks that no more than Concurrency
// projects are listed at once, and that every project is listed once.
func TestInventoryConcurrencyBound(t *testing.T) {
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	seen := map[string]int{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /compute/v1/projects/P/aggregated/instances
		parts := strings.Split(r.URL.Path, "/")
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		seen[parts[4]]++
		full := inFlight == 3
		mu.Unlock()
		if full {
			// Let the first wave go only once the bound is reached.
			select {
			case <-release:
			default:
				close(release)
			}
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second): // a lower bound than 3 must not hang the test
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		if r.URL.Query().Get("returnPartialSuccess") != "true" {
			http.Error(w, "returnPartialSuccess missing", 400)
			return
		}
		fmt.Fprintf(w, `{"items":{"zones/z1":{"instances":[{"name":"vm-%s","zone":"zones/z1","status":"RUNNING"}]}}}`, parts[4])
	}))
	defer srv.Close()
	eps, _ := endpoint.Parse(srv.URL)
	c, err := NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	c.Concurrency = 3
	var ps []Project
	for i := range 12 {
		ps = append(ps, Project{ID: fmt.Sprintf("p%02d", i)})
	}
	inv, err := c.Inventory(context.Background(), ps)
	if err != nil {
		t.Fatal(err)
	}
	if maxInFlight > 3 {
		t.Errorf("%d projects listed at once, want at most 3", maxInFlight)
	}
	for _, p := range ps {
		if seen[p.ID] != 1 || len(inv.Instances[p.ID]) != 1 || inv.Instances[p.ID][0].Name != "vm-"+p.ID {
			t.Errorf("%s: listed %d times, instances %+v", p.ID, seen[p.ID], inv.Instances[p.ID])
		}
	}
	if c.Calls() != 12 {
		t.Errorf("calls = %d, want 12", c.Calls())
	}
}

func TestInventoryCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	eps, _ := endpoint.Parse(srv.URL)
	c, err := NewClient(context.Background(), eps, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Inventory(ctx, []Project{{ID: "a"}, {ID: "b"}})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled inventory: %v", err)
	}
}
