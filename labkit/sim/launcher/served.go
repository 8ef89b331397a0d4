package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// The lab keeps the name of every SOAP method it serves, in order, and answers GET /labkit/methods?since=N with
// the names from the N-th on (a lab endpoint, to the lab's user name and password). A client can then prove
// what it called: that an audit called only reading methods, for instance.

const servedMax = 200000 // names kept; the oldest roll off

type servedLog struct {
	mu    sync.Mutex
	first int // the number of names[0], from 0
	names []string
}

var served = &servedLog{}

func (l *servedLog) add(name string) {
	if name == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
	if over := len(l.names) - servedMax; over > 0 {
		l.names = append([]string(nil), l.names[over:]...)
		l.first += over
	}
}

// since returns the names from number n on, and the number the next name will have.
func (l *servedLog) since(n int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.first + len(l.names)
	if n < l.first {
		n = l.first
	}
	if n > next {
		n = next
	}
	return append([]string{}, l.names[n-l.first:]...), next
}

func serveMethods(w http.ResponseWriter, r *http.Request, user, password string) {
	if !labAuth(w, r, user, password) {
		return
	}
	n, err := strconv.Atoi(r.URL.Query().Get("since"))
	if err != nil || n < 0 {
		n = 0
	}
	names, next := served.since(n)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{"methods": names, "next": next})
}
