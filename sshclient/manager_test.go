package sshclient

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestManagerReusesOneConnection(t *testing.T) {
	e := newEnv(t)
	m := &Manager{Connector: e.conn, Linger: time.Hour}
	defer m.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	sessions := make([]*Session, 4)
	errs := make([]error, 4)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sessions[i], errs[i] = m.Session(ctx, vm)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := m.SFTP(ctx, vm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Getwd(); err != nil {
		t.Fatal(err)
	}
	e.srv.mu.Lock()
	hs := e.srv.handshakes
	e.srv.mu.Unlock()
	if hs != 1 {
		t.Fatalf("%d handshakes for four sessions and SFTP, want 1", hs)
	}
	if e.cloud.projectWrites != 1 {
		t.Fatalf("%d metadata writes, want 1", e.cloud.projectWrites)
	}
	for _, s := range sessions {
		if err := s.Start("echo x"); err != nil {
			t.Fatal(err)
		}
		go s.Stderr.Read(make([]byte, 100))
		if code, err := s.Wait(); err != nil || code != 0 {
			t.Fatal(code, err)
		}
	}
	f.Close()
	if !m.Open(vm) {
		t.Fatal("connection closed before its linger")
	}
}

func TestManagerClosesAfterLinger(t *testing.T) {
	e := newEnv(t)
	m := &Manager{Connector: e.conn, Linger: -1}
	defer m.Close()
	l, err := m.Acquire(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Client
	l.Release()
	l.Release() // twice is harmless
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("idle connection not closed")
	}
	// A new acquire connects again.
	l2, err := m.Acquire(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if l2.Client == c {
		t.Fatal("reused a closed connection")
	}
	// The server counts a handshake when its side returns, which can be
	// just after the client's.
	hs := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		e.srv.mu.Lock()
		hs = e.srv.handshakes
		e.srv.mu.Unlock()
		if hs >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if hs != 2 {
		t.Fatalf("%d handshakes, want 2", hs)
	}
}

func TestManagerReconnectsAfterDrop(t *testing.T) {
	e := newEnv(t)
	m := &Manager{Connector: e.conn, Linger: time.Hour}
	defer m.Close()
	l, err := m.Acquire(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	l.Client.Close()
	<-l.Client.Done()
	l2, err := m.Acquire(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Client == l.Client {
		t.Fatal("handed out a dead connection")
	}
	l.Release()
	l2.Release()
}

func TestManagerConnectFailure(t *testing.T) {
	e := newEnv(t)
	e.cloud.project["enable-oslogin"] = "true"
	e.cloud.project["enable-oslogin-sk"] = "true"
	m := &Manager{Connector: e.conn}
	if _, err := m.Session(context.Background(), vm); err == nil {
		t.Fatal("no error")
	}
	if m.Open(vm) {
		t.Fatal("failed connection kept")
	}
}
