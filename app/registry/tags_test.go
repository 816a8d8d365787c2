package registry

import "testing"

// TestPageTags pages tag lists the way an upstream that ignores n and last
// answers them, and leaves alone what the upstream paged itself.
func TestPageTags(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		n           int
		last        string
		wantChanged bool
		wantBody    string
		wantNext    string
	}{
		{name: "upstream ignored n", body: `{"name":"a/b","tags":["c","a","b"]}`, n: 2,
			wantChanged: true, wantBody: `{"name":"a/b","tags":["a","b"]}`, wantNext: "last=b&n=2"},
		{name: "upstream ignored last", body: `{"name":"a/b","tags":["c","a","b"]}`, n: -1, last: "a",
			wantChanged: true, wantBody: `{"name":"a/b","tags":["b","c"]}`},
		{name: "upstream ignored both", body: `{"name":"a/b","tags":["d","c","a","b"]}`, n: 1, last: "b",
			wantChanged: true, wantBody: `{"name":"a/b","tags":["c"]}`, wantNext: "last=c&n=1"},
		{name: "n=0 is an empty page without a next one", body: `{"name":"a/b","tags":["a"]}`, n: 0,
			wantChanged: true, wantBody: `{"name":"a/b","tags":[]}`},
		{name: "nothing after last", body: `{"name":"a/b","tags":["a","b"]}`, n: 5, last: "z",
			wantChanged: true, wantBody: `{"name":"a/b","tags":[]}`},
		{name: "other fields are kept", body: `{"name":"a/b","tags":["b","a"],"x":{"y":1}}`, n: 1,
			wantChanged: true, wantBody: `{"name":"a/b","tags":["a"],"x":{"y":1}}`, wantNext: "last=a&n=1"},
		{name: "a page the upstream made is kept", body: `{"name":"a/b","tags":["c","d"]}`, n: 2, last: "b"},
		{name: "a short list is kept in its order", body: `{"name":"a/b","tags":["b","a"]}`, n: 5},
		{name: "no tags (null)", body: `{"name":"a/b","tags":null}`, n: 1, last: "a"},
		{name: "not a tag list", body: `<html>`, n: 1},
		{name: "tags of the wrong type", body: `{"tags":"a"}`, n: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, next, changed := pageTags([]byte(tc.body), tc.n, tc.last)
			if changed != tc.wantChanged {
				t.Fatalf("changed = %v, want %v (page %s)", changed, tc.wantChanged, page)
			}
			if !changed {
				return
			}
			if string(page) != tc.wantBody || next != tc.wantNext {
				t.Errorf("page %s next %q, want %s %q", page, next, tc.wantBody, tc.wantNext)
			}
		})
	}
}
