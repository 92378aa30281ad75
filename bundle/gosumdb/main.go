// Command gosumdb completes, on the bastion, the checksum database answers
// that `airgap bundle` carries for the site's Go modules, so that the go
// command inside the site can keep GOSUMDB=sum.golang.org on while it talks
// to the site's module proxy only (issue 20, docs/goproxy.md).
//
// Usage:
//
//	gosumdb tiles DIR BASE [EARLIER]
//
// DIR is a module cache's download folder (GOMODCACHE/cache/download) after
// `go mod download` ran with GOSUMDB on: it holds the database's answers the
// go command read, sumdb/sum.golang.org/lookup/<module>@<version> (the
// record and the signed tree head it was proven in) and some of the tiles
// (sumdb/sum.golang.org/tile/...). A client inside may look those records
// up in any order, each time proving the record and the consistency of the
// trees it has seen against the newest tree seen so far: for every tree
// head T among the lookups it needs the tiles that prove every record of an
// older or equal tree in T, and that T extends each older tree. For each
// tree head T, newest last, this command runs the checksum database client
// of golang.org/x/mod (the one the go command vendors) on a fresh state,
// looks up T's record first and then every record of an older or equal
// tree, reading lookups from DIR and tiles from DIR or else from BASE (the
// database as the bastion reaches it: a proxy's <proxy>/sumdb/sum.golang.org,
// or https://sum.golang.org), saving each tile it fetched into DIR. Every
// signature and proof is checked by that client; any failure stops the
// command (exit 1). EARLIER, a folder laid out like DIR, holds the answers of
// the site's earlier bundles: a client inside may hold one of their tree
// heads as its latest, so for each of those heads a client starting from it
// looks up every answer of DIR (the consistency proofs it then needs).
// Prints {"lookups", "trees", "earlier", "fetched": [paths]} as JSON.
//
//	gosumdb check
//
// Reads lines "<module path> <version>" on stdin and prints for each, as
// JSON lines {"path", "version", "error"}, what golang.org/x/mod's
// module.Check and semver.Canonical say (the compiler's port is tested
// against it).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The go command's known key for its default checksum database (cmd/go knownGOSUMDB).
const (
	sumdbName = "sum.golang.org"
	sumdbKey  = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
)

// lookup is one answer of the database the bastion's go command read.
type lookup struct {
	path, version string
	tree          tlog.Tree
	// msg is the signed tree head as the client keeps it (its "latest").
	msg string
}

// ops serves one client: lookups from dir only, tiles from dir or base.
type ops struct {
	dir, base string
	mu        sync.Mutex
	latest    []byte
	fetched   map[string]bool
	http      *http.Client
	failed    error
}

func (o *ops) file(p string) string {
	return filepath.Join(o.dir, "sumdb", sumdbName, filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

func (o *ops) ReadRemote(p string) ([]byte, error) {
	if strings.HasPrefix(p, "/lookup/") {
		return os.ReadFile(o.file(p))
	}
	if !strings.HasPrefix(p, "/tile/") || strings.Contains(p, "..") {
		return nil, fmt.Errorf("unexpected path %s", p)
	}
	if data, err := os.ReadFile(o.file(p)); err == nil {
		return data, nil
	}
	resp, err := o.http.Get(o.base + p)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s", o.base, p, resp.Status)
	}
	// Saved as read: the client authenticates a tile against a signed tree
	// head before using it, and stops on a mismatch (SecurityError).
	dest := o.file(p)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	tmp := dest + ".partial"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return nil, err
	}
	o.mu.Lock()
	o.fetched["sumdb/"+sumdbName+p] = true
	o.mu.Unlock()
	return data, nil
}

func (o *ops) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(sumdbKey), nil
	}
	if file == sumdbName+"/latest" {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.latest, nil
	}
	return nil, fmt.Errorf("unknown config %s", file)
}

func (o *ops) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(old, o.latest) {
		return sumdb.ErrWriteConflict
	}
	o.latest = new
	return nil
}

// The cache is left empty: every read goes through ReadRemote, so every
// tile a fresh client inside would ask the site for is read here.
func (o *ops) ReadCache(string) ([]byte, error) { return nil, fs.ErrNotExist }
func (o *ops) WriteCache(string, []byte)        {}
func (o *ops) Log(string)                       {}
func (o *ops) SecurityError(msg string) {
	o.mu.Lock()
	o.failed = errors.New(msg)
	o.mu.Unlock()
}

func readLookups(dir string) ([]lookup, error) {
	verifier, err := note.NewVerifier(sumdbKey)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "sumdb", sumdbName, "lookup")
	var out []lookup
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		at := strings.LastIndex(rel, "@")
		if at < 0 {
			return fmt.Errorf("%s: not <module>@<version>", p)
		}
		mpath, err1 := module.UnescapePath(rel[:at])
		vers, err2 := module.UnescapeVersion(rel[at+1:])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s: not an escaped <module>@<version>", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, _, treeMsg, err := tlog.ParseRecord(data)
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		n, err := note.Open(treeMsg, note.VerifierList(verifier))
		if err != nil {
			return fmt.Errorf("%s: its tree head: %v", p, err)
		}
		tree, err := tlog.ParseTree([]byte(n.Text))
		if err != nil {
			return fmt.Errorf("%s: its tree head: %v", p, err)
		}
		out = append(out, lookup{mpath, vers, tree, string(treeMsg)})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

func tiles(dir, base, earlierDir string) error {
	lookups, err := readLookups(dir)
	if err != nil {
		return err
	}
	var earlier []lookup
	if earlierDir != "" {
		if earlier, err = readLookups(earlierDir); err != nil {
			return err
		}
	}
	sort.Slice(lookups, func(i, j int) bool {
		if lookups[i].tree.N != lookups[j].tree.N {
			return lookups[i].tree.N < lookups[j].tree.N
		}
		return lookups[i].path+"@"+lookups[i].version < lookups[j].path+"@"+lookups[j].version
	})
	fetched := map[string]bool{}
	client := &http.Client{Timeout: 60 * time.Second}
	trees := 0
	for j, head := range lookups {
		if j > 0 && lookups[j-1].tree == head.tree {
			continue
		}
		trees++
		o := &ops{dir: dir, base: strings.TrimSuffix(base, "/"), fetched: fetched, http: client}
		c := sumdb.NewClient(o)
		order := []lookup{head}
		for _, l := range lookups {
			if l.tree.N <= head.tree.N && l != head {
				order = append(order, l)
			}
		}
		for _, l := range order {
			if _, err := c.Lookup(l.path, l.version); err != nil {
				return err
			}
			if o.failed != nil {
				return fmt.Errorf("%s@%s: %v", l.path, l.version, o.failed)
			}
		}
	}
	// A client whose latest head is an earlier bundle's: every answer of this one, from that state.
	heads := map[tlog.Tree]bool{}
	for _, l := range lookups {
		heads[l.tree] = true
	}
	used := 0
	for _, e := range earlier {
		if heads[e.tree] {
			continue
		}
		heads[e.tree] = true
		used++
		o := &ops{dir: dir, base: strings.TrimSuffix(base, "/"), fetched: fetched, http: client, latest: []byte(e.msg)}
		c := sumdb.NewClient(o)
		for _, l := range lookups {
			if _, err := c.Lookup(l.path, l.version); err != nil {
				return fmt.Errorf("from the earlier tree head of %s@%s: %v", e.path, e.version, err)
			}
			if o.failed != nil {
				return fmt.Errorf("from the earlier tree head of %s@%s: %s@%s: %v", e.path, e.version, l.path, l.version, o.failed)
			}
		}
	}
	list := make([]string, 0, len(fetched))
	for p := range fetched {
		list = append(list, p)
	}
	sort.Strings(list)
	return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"lookups": len(lookups), "trees": trees, "earlier": used, "fetched": list})
}

func check() error {
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 {
			continue
		}
		msg := ""
		if err := module.Check(f[0], f[1]); err != nil {
			msg = err.Error()
		} else if c := semver.Canonical(f[1]); c+semver.Build(f[1]) != f[1] || (semver.Build(f[1]) != "" && semver.Build(f[1]) != "+incompatible") {
			msg = "not canonical"
		}
		if err := enc.Encode(map[string]string{"path": f[0], "version": f[1], "error": msg}); err != nil {
			return err
		}
	}
	return in.Err()
}

func main() {
	var err error
	switch {
	case (len(os.Args) == 4 || len(os.Args) == 5) && os.Args[1] == "tiles":
		earlier := ""
		if len(os.Args) == 5 {
			earlier = os.Args[4]
		}
		err = tiles(os.Args[2], os.Args[3], earlier)
	case len(os.Args) == 2 && os.Args[1] == "check":
		err = check()
	default:
		fmt.Fprintln(os.Stderr, "usage: gosumdb tiles DIR BASE [EARLIER] | gosumdb check")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosumdb:", err)
		os.Exit(1)
	}
}
