package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"artifactapi/app/config"
	"artifactapi/app/formats"
	"artifactapi/db"
)

// MaxItems bounds the items of one job.
const MaxItems = 10000

// Reasons given for items refused when the job is submitted.
const (
	ReasonNoRemote   = "URL matches no remote"
	ReasonInvalidURL = "invalid URL"
)

// Submission is a request for a job: the paths of one remote, or URLs
// each starting with a configured remote's base_url.
type Submission struct {
	Remote string
	Paths  []string // nil when URLs are given
	URLs   []string // nil when Paths are given
	Pin    bool
}

// InvalidError is a submission refused as a whole; its message is for the client.
type InvalidError struct {
	Msg  string
	Path string // the first offending path, when there is one
	// Lines lists every refused path, in submission order, so that a
	// client can fix them all at once.
	Lines []InvalidLine
}

// InvalidLine is one refused path of a submission.
type InvalidLine struct {
	Index  int // position in Submission.Paths, from 0
	Path   string
	Reason string
}

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Submit validates s, stores the job and wakes the workers of every replica.
// A bad path, or one the remote's patterns deny, refuses the whole
// submission (every such path is listed); a URL that matches no remote
// only refuses its item.
func (m *Manager) Submit(ctx context.Context, s Submission) (db.Job, error) {
	cfg := m.o.Config()
	j := db.Job{Pin: s.Pin}
	switch {
	case s.Paths != nil && s.URLs != nil:
		return j, invalid(`give either "paths" or "urls", not both`)
	case s.Paths == nil && s.URLs == nil:
		return j, invalid(`give "paths" (with "remote") or "urls"`)
	case len(s.Paths)+len(s.URLs) == 0:
		return j, invalid("the list of artifacts is empty")
	case len(s.Paths)+len(s.URLs) > MaxItems:
		return j, invalid("too many artifacts: %d (at most %d per job)", len(s.Paths)+len(s.URLs), MaxItems)
	}
	if s.Paths != nil {
		r := cfg.Remotes.Remotes[s.Remote]
		if s.Remote == "" {
			return j, invalid(`"remote" is required with "paths"`)
		}
		if r == nil {
			return j, invalid("unknown remote %q", s.Remote)
		}
		if why := unfetchable(r); why != "" {
			return j, invalid("remote %q: %s", s.Remote, why)
		}
		j.Remote = r.Name
		var bad []InvalidLine
		for i, raw := range s.Paths {
			key, err := cleanKey(r, raw)
			if err == nil && !r.Classify(strings.SplitN(key, "?", 2)[0]).Allowed {
				err = errors.New(ReasonDenied)
			}
			if err != nil {
				bad = append(bad, InvalidLine{Index: i, Path: raw, Reason: err.Error()})
				continue
			}
			j.Items = append(j.Items, db.JobItem{Remote: r.Name, Path: key})
		}
		if len(bad) > 0 {
			return j, refused(bad, len(s.Paths))
		}
	} else {
		if s.Remote != "" {
			return j, invalid(`"remote" is not used with "urls": each URL names its remote`)
		}
		for _, raw := range s.URLs {
			j.Items = append(j.Items, resolveURL(cfg.Remotes, raw))
		}
	}
	j, err := m.store.CreateJob(ctx, j)
	if err != nil {
		return j, err
	}
	m.Wake()
	if err := m.o.Coord.Publish(ctx, Topic, j.ID); err != nil {
		m.coordFailed()
		m.o.Log.Warn("jobs: announce new job to other replicas; they will find it by polling", "job", j.ID, "err", err)
	}
	return j, nil
}

// refused is the error of a submission with bad paths, naming them all.
func refused(bad []InvalidLine, of int) error {
	msg := bad[0].Reason
	if len(bad) > 1 || of > 1 {
		msg = fmt.Sprintf("%d of %d paths refused; the first: %s", len(bad), of, bad[0].Reason)
	}
	return &InvalidError{Msg: msg, Path: bad[0].Path, Lines: bad}
}

// unfetchable says why jobs cannot cache a remote's artifacts ("" if they can).
func unfetchable(r *config.Remote) string {
	switch {
	case r.IsLocal():
		return "a local repository has nothing to fetch"
	case r.Package == config.PackageDocker:
		return "docker remotes are cached through /v2/"
	}
	return ""
}

// cleanKey turns a submitted path (as in a request URL: percent-encoding
// allowed, optional ?query) into the cache key, with the checks of /api.
func cleanKey(r *config.Remote, raw string) (string, error) {
	rawPath, rawQuery, _ := strings.Cut(raw, "?")
	p, err := config.CleanPath(rawPath)
	if err != nil {
		return "", err
	}
	q, err := config.CleanQuery(rawQuery)
	if err != nil {
		return "", err
	}
	q = r.FilterQuery(q) // as /api: only the remote's query_params are kept
	// As /api: a format's name normalisation (pypi project names), so the
	// job fills the entry clients read. The default representation is cached.
	p = formats.Resolve(r, formats.Request{Path: p}).Path
	if _, err := r.UpstreamURL(p, q); err != nil {
		return "", err
	}
	if q != "" {
		return p + "?" + q, nil
	}
	return p, nil
}

// resolveURL finds the remote whose base_url starts raw (the longest when
// several do) and the artifact path after it. An item that cannot be
// resolved is returned failed, with the reason.
func resolveURL(f *config.File, raw string) db.JobItem {
	it := db.JobItem{URL: raw}
	refuse := func(reason string) db.JobItem {
		it.State, it.Reason = db.ItemFailed, reason
		return it
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return refuse(ReasonInvalidURL)
	}
	if u.User != nil {
		return refuse("URL must not carry credentials")
	}
	var best *config.Remote
	var rest string
	bestLen := -1
	for _, name := range f.Names() { // sorted: equal base URLs go to the first name
		r := f.Remotes[name]
		b := r.BaseURLParsed()
		if b == nil || !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) {
			continue
		}
		prefix := strings.TrimRight(b.EscapedPath(), "/") + "/"
		if p := u.EscapedPath(); strings.HasPrefix(p, prefix) && len(prefix) > bestLen {
			best, rest, bestLen = r, p[len(prefix):], len(prefix)
		}
	}
	if best == nil {
		return refuse(ReasonNoRemote)
	}
	if why := unfetchable(best); why != "" {
		return refuse(fmt.Sprintf("remote %q: %s", best.Name, why))
	}
	if u.RawQuery != "" {
		rest += "?" + u.RawQuery
	}
	key, err := cleanKey(best, rest)
	if err != nil {
		return refuse(err.Error())
	}
	it.Remote, it.Path = best.Name, key
	if !best.Classify(strings.SplitN(key, "?", 2)[0]).Allowed {
		// Refused up front, as a path would be; the other URLs still run.
		it.State, it.Reason = db.ItemDenied, ReasonDenied
	}
	return it
}

// ErrNothingToRetry is returned by Retry for a job without failed items.
var ErrNothingToRetry = errors.New("jobs: the job has no failed item")

// Retry submits a new job of the failed items of job id (a failed item of a
// job of URLs is submitted again by its URL), with the job's pin flag. The
// original job is left as it ended, so its outcome stays on record; the new
// job is a normal job any replica works on. It returns db.ErrNotFound for an
// unknown job and ErrNothingToRetry when no item failed.
func (m *Manager) Retry(ctx context.Context, id string) (db.Job, error) {
	old, err := m.store.GetJob(ctx, id)
	if err != nil {
		return db.Job{}, err
	}
	s := Submission{Remote: old.Remote, Pin: old.Pin}
	for _, it := range old.Items {
		if it.State != db.ItemFailed {
			continue
		}
		if old.Remote == "" {
			s.URLs = append(s.URLs, it.URL)
		} else {
			s.Paths = append(s.Paths, it.Path)
		}
	}
	if len(s.Paths)+len(s.URLs) == 0 {
		return db.Job{}, ErrNothingToRetry
	}
	return m.Submit(ctx, s)
}
