package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

func TestReloadKeepsRunningConfigOnInvalidFile(t *testing.T) {
	o := newOrigin(t)
	o.set("/files/r.bin", []byte("reload"))
	in := start(t, apptest.Embedded, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.App.WatchReload(ctx)
	path := filepath.Join(in.DataDir, "remotes.yaml")

	// An invalid file (look-ahead pattern) is refused; the old config keeps serving.
	bad := strings.Replace(remotesFor(o, ""), `"^files/"`, `"^(?=files)"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := in.App.Reload(); err == nil || !strings.Contains(err.Error(), "look-ahead") {
		t.Fatalf("invalid file accepted: %v", err)
	}
	if st, _, b := in.Get(t, "/api/gen/files/r.bin", nil); st != 200 || string(b) != "reload" {
		t.Fatalf("after refused reload: %d %q", st, b)
	}
	if !strings.Contains(in.Logs.String(), "reload refused") {
		t.Fatal("refused reload not logged")
	}

	// A valid change is picked up by SIGHUP.
	extra := "  added:\n    base_url: \"" + o.URL + "\"\n"
	if err := os.WriteFile(path, []byte(remotesFor(o, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "SIGHUP reload", func() bool {
		return in.App.Config().Remotes.Remotes["added"] != nil
	})
	if st, _, _ := in.Get(t, "/api/added/files/r.bin", nil); st != 200 {
		t.Fatalf("new remote after reload: %d", st)
	}

	// A changed file is picked up without a signal.
	extra2 := extra + "  watched:\n    base_url: \"" + o.URL + "\"\n"
	if err := os.WriteFile(path, []byte(remotesFor(o, extra2)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "file-change reload", func() bool {
		return in.App.Config().Remotes.Remotes["watched"] != nil
	})
}

func TestShutdownLetsRunningDownloadFinish(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(3<<20, 8)
		f := o.set("/files/drain.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		b := apptest.NewBackends(t, mode)
		in := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
		resp, err := http.Get(in.URL + "/api/gen/files/drain.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, len(body)/2)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan struct{})
		go func() { in.Stop(); close(stopped) }()
		// New connections are refused while the download drains.
		testenv.Eventually(t, 10*time.Second, "listener closed", func() bool {
			r, err := http.Get(in.URL + "/health")
			if err == nil {
				r.Body.Close()
			}
			return err != nil
		})
		select {
		case <-stopped:
			t.Fatal("shutdown did not wait for the running download")
		default:
		}
		close(f.gate)
		rest, err := io.ReadAll(resp.Body)
		if err != nil || sha(append(buf, rest...)) != sha(body) {
			t.Fatalf("download cut by shutdown: %v", err)
		}
		<-stopped
		// After a restart on the same storage the drained download is a hit.
		again := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, ""), DataDir: in.DataDir})
		if _, h, got := again.Get(t, "/api/gen/files/drain.bin", nil); h.Get("X-Artifact-Source") != "cache" || sha(got) != sha(body) {
			t.Fatalf("drained download not committed: %s", h.Get("X-Artifact-Source"))
		}
	})
}
