package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"iapterm/emulator/agent"
	"iapterm/emulator/world"
)

type osLoginKey struct {
	line    string
	pub     ssh.PublicKey
	expires time.Time // zero: never
}

// osLogin holds users' OS Login SSH keys.
type osLogin struct {
	mu     sync.Mutex
	byUser map[string]map[string]osLoginKey // lowercased email -> fingerprint -> key
}

func newOSLogin() *osLogin { return &osLogin{byUser: map[string]map[string]osLoginKey{}} }

// keys returns the unexpired keys of a user.
func (o *osLogin) keys(email string, now time.Time) []osLoginKey {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []osLoginKey
	for _, k := range o.byUser[strings.ToLower(email)] {
		if k.expires.IsZero() || now.Before(k.expires) {
			out = append(out, k)
		}
	}
	return out
}

func (o *osLogin) snapshot(email string) map[string]osLoginKey {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]osLoginKey{}
	for fp, k := range o.byUser[strings.ToLower(email)] {
		out[fp] = k
	}
	return out
}

func keyFingerprint(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return hex.EncodeToString(sum[:])
}

// posixUsername is a user's OS Login username: the world's override or one
// derived from the email.
func posixUsername(u world.User) string {
	if u.PosixUsername != "" {
		return u.PosixUsername
	}
	return agent.OSLoginUsername(u.Email)
}

// osLoginRoute serves /v1/users/{email}/... .
func (a *API) osLoginRoute(w http.ResponseWriter, r *http.Request, who caller, name, verb string) {
	email, sub, _ := strings.Cut(name, "/")
	u, ok := a.c.User(email)
	if !ok || !strings.EqualFold(email, who.email) {
		// OS Login only lets users manage their own profile.
		writeError(w, permissionDenied("oslogin.users.get", "users/"+email))
		return
	}
	switch {
	case sub == "loginProfile" && verb == "" && r.Method == http.MethodGet:
		writeJSON(w, 200, a.loginProfile(u, r.URL.Query().Get("projectId")))
	case sub == "" && verb == "importSshPublicKey" && r.Method == http.MethodPost:
		a.importKey(w, r, u)
	case strings.HasPrefix(sub, "sshPublicKeys/") && verb == "":
		fp := strings.TrimPrefix(sub, "sshPublicKeys/")
		a.sshPublicKey(w, r, u, fp)
	default:
		writeError(w, newError(404, "notFound", "The requested URL was not found.", true))
	}
}

type posixAccountJSON struct {
	Primary             bool   `json:"primary"`
	Username            string `json:"username"`
	UID                 string `json:"uid"`
	GID                 string `json:"gid"`
	HomeDirectory       string `json:"homeDirectory"`
	Shell               string `json:"shell"`
	Gecos               string `json:"gecos,omitempty"`
	SystemID            string `json:"systemId,omitempty"`
	AccountID           string `json:"accountId"`
	OperatingSystemType string `json:"operatingSystemType"`
	Name                string `json:"name"`
}

type sshPublicKeyJSON struct {
	Key                string `json:"key"`
	ExpirationTimeUsec string `json:"expirationTimeUsec,omitempty"`
	Fingerprint        string `json:"fingerprint"`
	Name               string `json:"name"`
}

type loginProfileJSON struct {
	Name          string                      `json:"name"`
	PosixAccounts []posixAccountJSON          `json:"posixAccounts,omitempty"`
	SSHPublicKeys map[string]sshPublicKeyJSON `json:"sshPublicKeys,omitempty"`
}

func (a *API) loginProfile(u world.User, projectID string) loginProfileJSON {
	name := posixUsername(u)
	uid := strconv.FormatUint(1000+hashID("uid", strings.ToLower(u.Email))%2000000000, 10)
	out := loginProfileJSON{Name: strconv.FormatUint(hashID("user", strings.ToLower(u.Email)), 10)}
	out.PosixAccounts = []posixAccountJSON{{
		Primary: true, Username: name, UID: uid, GID: uid, HomeDirectory: "/home/" + name, Shell: "/bin/bash",
		Gecos: u.Name, AccountID: projectID, OperatingSystemType: "LINUX",
		Name: "users/" + u.Email + "/projects/" + projectID,
	}}
	if projectID == "" {
		out.PosixAccounts[0].AccountID = "default"
		out.PosixAccounts[0].Name = "users/" + u.Email
	}
	now := a.c.Now()
	for fp, k := range a.oslogin.snapshot(u.Email) {
		if out.SSHPublicKeys == nil {
			out.SSHPublicKeys = map[string]sshPublicKeyJSON{}
		}
		kj := sshPublicKeyJSON{Key: k.line, Fingerprint: fp, Name: "users/" + u.Email + "/sshPublicKeys/" + fp}
		if !k.expires.IsZero() {
			if !now.Before(k.expires) {
				continue
			}
			kj.ExpirationTimeUsec = strconv.FormatInt(k.expires.UnixMicro(), 10)
		}
		out.SSHPublicKeys[fp] = kj
	}
	return out
}

func (a *API) importKey(w http.ResponseWriter, r *http.Request, u world.User) {
	var body struct {
		Key                string    `json:"key"`
		ExpirationTimeUsec int64JSON `json:"expirationTimeUsec"`
		// Output only, but a client may send back what it read.
		Fingerprint string `json:"fingerprint"`
		Name        string `json:"name"`
	}
	if err := decodeStrictBody(r, &body); err != nil {
		writeError(w, badRequest("Invalid JSON payload received. "+err.Error(), true))
		return
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body.Key))
	if err != nil {
		writeError(w, badRequest("Invalid SSH key: "+err.Error()+". Send a public key in OpenSSH format (\"ssh-ed25519 AAAA... comment\").", true))
		return
	}
	var exp time.Time
	if body.ExpirationTimeUsec != "" {
		us, err := strconv.ParseInt(string(body.ExpirationTimeUsec), 10, 64)
		if err != nil {
			writeError(w, badRequest("Invalid value at 'ssh_public_key.expiration_time_usec' ("+string(body.ExpirationTimeUsec)+")", true))
			return
		}
		exp = time.UnixMicro(us)
	}
	projectID := r.URL.Query().Get("projectId")
	if !a.opts.ForbidUserSSHKeys {
		fp := keyFingerprint(pub)
		a.oslogin.mu.Lock()
		m := a.oslogin.byUser[strings.ToLower(u.Email)]
		if m == nil {
			m = map[string]osLoginKey{}
			a.oslogin.byUser[strings.ToLower(u.Email)] = m
		}
		m[fp] = osLoginKey{line: strings.TrimSpace(body.Key), pub: pub, expires: exp}
		a.oslogin.mu.Unlock()
		a.agent.Changed()
	}
	writeJSON(w, 200, map[string]any{"loginProfile": a.loginProfile(u, projectID)})
}

func (a *API) sshPublicKey(w http.ResponseWriter, r *http.Request, u world.User, fp string) {
	a.oslogin.mu.Lock()
	m := a.oslogin.byUser[strings.ToLower(u.Email)]
	k, ok := m[fp]
	if ok && r.Method == http.MethodDelete {
		delete(m, fp)
	}
	a.oslogin.mu.Unlock()
	if !ok {
		writeError(w, newError(404, "notFound", "Requested entity was not found.", true))
		return
	}
	switch r.Method {
	case http.MethodDelete:
		a.agent.Changed()
		writeJSON(w, 200, struct{}{})
	case http.MethodGet:
		kj := sshPublicKeyJSON{Key: k.line, Fingerprint: fp, Name: "users/" + u.Email + "/sshPublicKeys/" + fp}
		if !k.expires.IsZero() {
			kj.ExpirationTimeUsec = strconv.FormatInt(k.expires.UnixMicro(), 10)
		}
		writeJSON(w, 200, kj)
	default:
		writeError(w, newError(405, "badRequest", "HTTP method not allowed", true))
	}
}
