package cache

import (
	"testing"
	"time"

	"artifactapi/db"
)

// TestMemoRenewalAskedOnce: a hit past three quarters of an entry's
// lifetime asks for its renewal, and only the first such hit does, so a
// database that fails or lags is not sent a read per hit; the entry stored
// by the renewal can be renewed in its turn.
func TestMemoRenewalAskedOnce(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMemo(10, 30*time.Second, func() time.Time { return now })
	k := mkey("r", "p")
	m.put(k, db.Artifact{Remote: "r", Path: "p"})
	if _, ok, renew := m.get("r", "p", true); !ok || renew {
		t.Fatalf("fresh entry: ok=%v renew=%v, want true false", ok, renew)
	}
	now = now.Add(23 * time.Second)
	if _, ok, renew := m.get("r", "p", false); !ok || renew {
		t.Fatalf("without claim: ok=%v renew=%v, want true false", ok, renew)
	}
	if _, ok, renew := m.get("r", "p", true); !ok || !renew {
		t.Fatalf("first hit past 22.5 s: ok=%v renew=%v, want true true", ok, renew)
	}
	for range 3 {
		if _, ok, renew := m.get("r", "p", true); !ok || renew {
			t.Fatalf("later hit: ok=%v renew=%v, want true false", ok, renew)
		}
	}
	m.put(k, db.Artifact{Remote: "r", Path: "p"}) // the renewal's read
	now = now.Add(23 * time.Second)
	if _, ok, renew := m.get("r", "p", true); !ok || !renew {
		t.Fatalf("renewed entry past 22.5 s: ok=%v renew=%v, want true true", ok, renew)
	}
	now = now.Add(8 * time.Second)
	if _, ok, _ := m.get("r", "p", true); ok {
		t.Fatal("an entry older than 30 s was served")
	}
}
