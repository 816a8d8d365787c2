package coord

import (
	"context"
	"testing"
	"time"
)

func TestLocalSweepPurgesUnreadExpiredEntries(t *testing.T) {
	ctx := context.Background()
	l := NewLocal()
	defer l.Close()
	if _, err := l.TryLock(ctx, "old-lock", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := l.Set(ctx, "old-value", "v", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := l.Set(ctx, "kept", "v", 0); err != nil {
		t.Fatal(err)
	}
	// Pretend both expired long ago and the last sweep is overdue.
	l.mu.Lock()
	past := time.Now().Add(-time.Hour)
	l.locks["old-lock"] = localLockEntry{token: 1, expires: past}
	l.values["old-value"] = localValue{value: "v", expires: past}
	l.lastSweep = past
	l.mu.Unlock()

	if err := l.Set(ctx, "trigger", "v", 0); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.locks["old-lock"]; ok {
		t.Error("expired lock not swept")
	}
	if _, ok := l.values["old-value"]; ok {
		t.Error("expired value not swept")
	}
	if _, ok := l.values["kept"]; !ok {
		t.Error("value without expiry was swept")
	}
}
