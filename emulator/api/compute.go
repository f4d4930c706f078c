package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
	"iapterm/policy"
)

// compute routes /compute/v1/...
func (a *API) compute(w http.ResponseWriter, r *http.Request, who caller) {
	rest := strings.TrimPrefix(r.URL.Path, "/compute/v1/")
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(seg) < 2 || seg[0] != "projects" {
		writeError(w, newError(404, "notFound", "The requested URL /compute/v1/"+rest+" was not found.", false))
		return
	}
	p := seg[1]
	if _, err := a.c.Project(p); err != nil {
		writeError(w, computeErr(err))
		return
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	s := seg[2:]
	switch {
	case len(s) == 0 && get:
		a.getProject(w, r, who, p)
	case len(s) == 1 && s[0] == "setCommonInstanceMetadata" && post:
		a.setProjectMetadata(w, r, who, p)
	case len(s) == 2 && s[0] == "aggregated" && s[1] == "instances" && get:
		a.aggregatedInstances(w, r, who, p)
	case len(s) == 2 && s[0] == "global" && s[1] == "firewalls" && get:
		a.listFirewalls(w, r, who, p)
	case len(s) == 2 && s[0] == "global" && s[1] == "firewalls" && post:
		a.insertFirewall(w, r, who, p)
	case len(s) >= 3 && len(s) <= 4 && s[0] == "global" && s[1] == "operations":
		a.getOperation(w, r, who, p, "", s[2], len(s) == 4 && s[3] == "wait" && post, len(s) == 3 && get)
	case len(s) >= 4 && len(s) <= 5 && s[0] == "zones" && s[2] == "operations":
		a.getOperation(w, r, who, p, s[1], s[3], len(s) == 5 && s[4] == "wait" && post, len(s) == 4 && get)
	case len(s) == 3 && s[0] == "zones" && s[2] == "instances" && get:
		a.listInstances(w, r, who, p, s[1])
	case len(s) >= 4 && s[0] == "zones" && s[2] == "instances":
		a.instanceMethod(w, r, who, p, s[1], s[3], s[4:])
	default:
		writeError(w, newError(404, "notFound", "The requested URL /compute/v1/"+rest+" was not found.", false))
	}
}

func (a *API) need(w http.ResponseWriter, who caller, resource, permission string) bool {
	if a.allowed(who.email, resource, permission) {
		return true
	}
	writeError(w, computeForbidden(permission, resource))
	return false
}

type projectJSON struct {
	Kind                   string       `json:"kind"`
	ID                     string       `json:"id"`
	CreationTimestamp      string       `json:"creationTimestamp"`
	Name                   string       `json:"name"`
	CommonInstanceMetadata metadataJSON `json:"commonInstanceMetadata"`
	SelfLink               string       `json:"selfLink"`
	DefaultServiceAccount  string       `json:"defaultServiceAccount"`
	XpnProjectStatus       string       `json:"xpnProjectStatus,omitempty"`
	DefaultNetworkTier     string       `json:"defaultNetworkTier"`
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request, who caller, p string) {
	if !a.need(w, who, "projects/"+p, policy.PermProjectsGet) {
		return
	}
	pr, err := a.c.Project(p)
	if err != nil {
		writeError(w, computeErr(err))
		return
	}
	writeJSON(w, 200, projectJSON{
		Kind: "compute#project", ID: strconv.FormatUint(hashID("project", pr.ID), 10),
		CreationTimestamp: "2024-01-01T00:00:00.000-08:00", Name: pr.ID,
		CommonInstanceMetadata: metadataWire(pr.Metadata), SelfLink: computeBase + "projects/" + pr.ID,
		DefaultServiceAccount: fmt.Sprintf("%d-compute@developer.gserviceaccount.com", pr.Number),
		XpnProjectStatus:      "UNSPECIFIED_XPN_PROJECT_STATUS", DefaultNetworkTier: "PREMIUM",
	})
}

var metadataKeyRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// parseMetadata validates a metadata write body as Compute does.
func parseMetadata(r *http.Request) (string, []cloud.MetadataItem, *apiError) {
	var body metadataJSON
	if err := decodeStrictBody(r, &body); err != nil {
		return "", nil, badRequest("Invalid JSON payload received. "+err.Error(), false)
	}
	var items []cloud.MetadataItem
	seen := map[string]bool{}
	total := 0
	for i, it := range body.Items {
		if !metadataKeyRE.MatchString(it.Key) {
			return "", nil, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'resource.items[%d].key': '%s'. Must be a match of regex '[a-zA-Z0-9-_]{1,128}'", i, it.Key), false)
		}
		if seen[it.Key] {
			return "", nil, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'resource.items[%d].key': '%s'. Duplicate keys are not allowed.", i, it.Key), false)
		}
		seen[it.Key] = true
		v := ""
		if it.Value != nil {
			v = *it.Value
		}
		if len(v) > 256<<10 {
			return "", nil, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'resource.items[%d].value': value is larger than 256 KiB.", i), false)
		}
		total += len(it.Key) + len(v)
		items = append(items, cloud.MetadataItem{Key: it.Key, Value: v})
	}
	if total > 512<<10 {
		return "", nil, newError(400, "invalid", "Metadata exceeds the maximum total size of 512 KB.", false)
	}
	return body.Fingerprint, items, nil
}

func (a *API) setProjectMetadata(w http.ResponseWriter, r *http.Request, who caller, p string) {
	if !a.need(w, who, "projects/"+p, policy.PermSetCommonMetadata) {
		return
	}
	fp, items, e := parseMetadata(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if _, err := a.c.SetProjectMetadata(p, fp, items); err != nil {
		writeError(w, computeErr(err))
		return
	}
	op := a.ops.start(&operation{Project: p, Type: "setMetadata", Target: computeBase + "projects/" + p, User: who.email, Inserted: a.c.Now()})
	a.finishAfter(op, a.opts.OperationDelay)
	writeJSON(w, 200, a.ops.wire(op))
}

// finishAfter completes op after d (at once when d <= 0).
func (a *API) finishAfter(op *operation, d time.Duration) {
	if d <= 0 {
		a.ops.finish(op, a.c.Now())
		return
	}
	a.pending.Add(1)
	go func() {
		defer a.pending.Done()
		select {
		case <-time.After(d):
		case <-a.ctx.Done():
		}
		a.ops.finish(op, a.c.Now())
	}()
}

func (a *API) getOperation(w http.ResponseWriter, r *http.Request, who caller, p, zone, name string, wait, get bool) {
	if !wait && !get {
		writeError(w, newError(405, "httpMethodNotAllowed", "HTTP method not allowed", false))
		return
	}
	perm, res := policy.PermGlobalOperationGet, "projects/"+p
	if zone != "" {
		perm = policy.PermZoneOperationGet
	}
	if !a.need(w, who, res, perm) {
		return
	}
	op, ok := a.ops.get(p, zone, name)
	if !ok {
		scope := "global"
		if zone != "" {
			scope = "zones/" + zone
		}
		writeError(w, newError(404, "notFound", fmt.Sprintf("The resource 'projects/%s/%s/operations/%s' was not found", p, scope, name), false))
		return
	}
	if wait {
		// Like Compute, wait returns when the operation is done or after a
		// while; callers loop until DONE.
		select {
		case <-op.done:
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, 200, a.ops.wire(op))
}

// listPage reads a list call's maxResults and pageToken; for a bad value
// it answers 400 and returns ok false.
func listPage(w http.ResponseWriter, r *http.Request) (max, off int, ok bool) {
	max, e := maxResults(r)
	if e != nil {
		writeError(w, e)
		return 0, 0, false
	}
	tok := r.URL.Query().Get("pageToken")
	if off, ok = pageOffset(tok); !ok {
		writeError(w, newError(400, "invalid", "Invalid value for field 'pageToken': '"+tok+"'. Supplied page token is invalid.", false))
	}
	return max, off, ok
}

// pageOffset decodes a page token (an offset).
func pageOffset(tok string) (int, bool) {
	if tok == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
	return n, err == nil && n >= 0
}

func pageToken(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(off)))
}

func maxResults(r *http.Request) (int, *apiError) {
	s := r.URL.Query().Get("maxResults")
	if s == "" {
		return 500, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'maxResults': '%s'. Must be a whole number from 0 to 500", s), false)
	case n < 0:
		return 0, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'maxResults': '%s'. Must be greater than or equal to 0", s), false)
	case n > 500:
		return 0, newError(400, "invalid", fmt.Sprintf("Invalid value for field 'maxResults': '%s'. Must be less than or equal to 500", s), false)
	}
	if n == 0 {
		n = 500
	}
	return n, nil
}

type warningJSON struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    []warningDatumJ `json:"data,omitempty"`
}

type warningDatumJ struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type scopedInstances struct {
	Instances []instanceJSON `json:"instances,omitempty"`
	Warning   *warningJSON   `json:"warning,omitempty"`
}

type aggregatedJSON struct {
	Kind          string                     `json:"kind"`
	ID            string                     `json:"id"`
	Items         map[string]scopedInstances `json:"items"`
	NextPageToken string                     `json:"nextPageToken,omitempty"`
	SelfLink      string                     `json:"selfLink"`
	Unreachables  []string                   `json:"unreachables,omitempty"`
}

func (a *API) aggregatedInstances(w http.ResponseWriter, r *http.Request, who caller, p string) {
	if !a.need(w, who, "projects/"+p, policy.PermInstancesList) {
		return
	}
	max, off, ok := listPage(w, r)
	if !ok {
		return
	}
	pr, _ := a.c.Project(p)
	all, err := a.c.Instances(p)
	if err != nil {
		writeError(w, computeErr(err))
		return
	}
	if all, ok = filterOrFail(w, all, r.URL.Query().Get("filter")); !ok {
		return
	}
	all = slices.DeleteFunc(all, func(in cloud.Instance) bool { return slices.Contains(pr.UnreachableZones, in.Zone) })
	out := aggregatedJSON{
		Kind: "compute#instanceAggregatedList", ID: "projects/" + p + "/aggregated/instances",
		Items: map[string]scopedInstances{}, SelfLink: computeBase + "projects/" + p + "/aggregated/instances",
	}
	end := min(off+max, len(all))
	if off > len(all) {
		off = len(all)
	}
	page := all[off:end]
	if end < len(all) {
		out.NextPageToken = pageToken(end)
	}
	for _, in := range page {
		sc := out.Items["zones/"+in.Zone]
		sc.Instances = append(sc.Instances, instanceWire(in))
		out.Items["zones/"+in.Zone] = sc
	}
	for _, z := range pr.Zones {
		if slices.Contains(pr.UnreachableZones, z) {
			continue
		}
		if _, ok := out.Items["zones/"+z]; !ok {
			out.Items["zones/"+z] = scopedInstances{Warning: &warningJSON{
				Code: "NO_RESULTS_ON_PAGE", Message: "There are no results for scope 'zones/" + z + "' on this page.",
				Data: []warningDatumJ{{Key: "scope", Value: "zones/" + z}},
			}}
		}
	}
	for _, z := range pr.UnreachableZones {
		out.Unreachables = append(out.Unreachables, "zones/"+z)
	}
	writeJSON(w, 200, out)
}

type instanceListJSON struct {
	Kind          string         `json:"kind"`
	ID            string         `json:"id"`
	Items         []instanceJSON `json:"items,omitempty"`
	NextPageToken string         `json:"nextPageToken,omitempty"`
	SelfLink      string         `json:"selfLink"`
}

func (a *API) listInstances(w http.ResponseWriter, r *http.Request, who caller, p, zone string) {
	if !a.need(w, who, "projects/"+p, policy.PermInstancesList) {
		return
	}
	pr, _ := a.c.Project(p)
	if !slices.Contains(pr.Zones, zone) && !knownZone(zone) {
		writeError(w, newError(404, "notFound", "The resource 'projects/"+p+"/zones/"+zone+"' was not found", false))
		return
	}
	max, off, ok := listPage(w, r)
	if !ok {
		return
	}
	all, err := a.c.InstancesInZone(p, zone)
	if err != nil {
		writeError(w, computeErr(err))
		return
	}
	if all, ok = filterOrFail(w, all, r.URL.Query().Get("filter")); !ok {
		return
	}
	out := instanceListJSON{Kind: "compute#instanceList", ID: "projects/" + p + "/zones/" + zone + "/instances",
		SelfLink: computeBase + "projects/" + p + "/zones/" + zone + "/instances"}
	off = min(off, len(all))
	end := min(off+max, len(all))
	for _, in := range all[off:end] {
		out.Items = append(out.Items, instanceWire(in))
	}
	if end < len(all) {
		out.NextPageToken = pageToken(end)
	}
	writeJSON(w, 200, out)
}

// knownZone accepts well-formed zone names that have no instances.
func knownZone(z string) bool {
	return zoneRE.MatchString(z)
}

var (
	zoneRE         = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	firewallNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

func (a *API) instanceMethod(w http.ResponseWriter, r *http.Request, who caller, p, zone, name string, verb []string) {
	res := "projects/" + p + "/zones/" + zone + "/instances/" + name
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	method := ""
	if len(verb) == 1 {
		method = verb[0]
	} else if len(verb) > 1 {
		writeError(w, newError(404, "notFound", "The requested URL was not found.", false))
		return
	}
	// Permission first, as Compute does: a caller without access learns
	// nothing about whether the instance exists.
	perm := map[string]string{
		"": policy.PermInstancesGet, "setMetadata": policy.PermSetMetadata,
		"start": "compute.instances.start", "stop": "compute.instances.stop", "reset": "compute.instances.reset",
		"suspend": "compute.instances.suspend", "resume": "compute.instances.resume",
		"serialPort": policy.PermSerialPortOutput, "getEffectiveFirewalls": "compute.instances.getEffectiveFirewalls",
		"getGuestAttributes": "compute.instances.getGuestAttributes", "testIamPermissions": "",
	}
	want, known := perm[method]
	if !known {
		writeError(w, newError(404, "notFound", "The requested URL was not found.", false))
		return
	}
	if want != "" && !a.need(w, who, res, want) {
		return
	}
	in, err := a.c.Instance(p, zone, name)
	if err != nil {
		writeError(w, computeErr(err))
		return
	}
	switch {
	case method == "" && get:
		writeJSON(w, 200, instanceWire(in))
	case method == "setMetadata" && post:
		a.setInstanceMetadata(w, r, who, in)
	case method == "testIamPermissions" && post:
		a.testPermissions(w, r, who, res, false)
	case method == "serialPort" && get:
		a.serialPort(w, r, in)
	case method == "getEffectiveFirewalls" && get:
		a.effectiveFirewalls(w, r, in)
	case method == "getGuestAttributes" && get:
		a.guestAttributes(w, r, in)
	case post && method != "" && method != "setMetadata":
		a.lifecycle(w, who, in, method)
	default:
		writeError(w, newError(405, "httpMethodNotAllowed", "HTTP method not allowed", false))
	}
}

func (a *API) setInstanceMetadata(w http.ResponseWriter, r *http.Request, who caller, in cloud.Instance) {
	fp, items, e := parseMetadata(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if in.ServiceAccount != "" && !a.allowed(who.email, in.ResourceName(), policy.PermActAs) {
		e := newError(400, "SERVICE_ACCOUNT_ACCESS_DENIED", fmt.Sprintf(
			"The user does not have access to service account '%s'.  User: '%s'.  Ask a project owner to grant you the iam.serviceAccountUser role on the service account",
			in.ServiceAccount, who.email), false)
		e.Errors[0].Message = "SERVICE_ACCOUNT_ACCESS_DENIED"
		writeError(w, e)
		return
	}
	if _, err := a.c.SetInstanceMetadata(in.Project, in.Zone, in.Name, fp, items); err != nil {
		writeError(w, computeErr(err))
		return
	}
	op := a.ops.start(&operation{Project: in.Project, Zone: in.Zone, Type: "setMetadata", Target: instanceURL(in), TargetID: in.ID, User: who.email, Inserted: a.c.Now()})
	a.finishAfter(op, a.opts.OperationDelay)
	writeJSON(w, 200, a.ops.wire(op))
}

type permissionsJSON struct {
	Permissions []string `json:"permissions,omitempty"`
}

// testPermissions answers testIamPermissions with the held subset.
func (a *API) testPermissions(w http.ResponseWriter, r *http.Request, who caller, resource string, withStatus bool) {
	var body permissionsJSON
	if err := decodeStrictBody(r, &body); err != nil {
		writeError(w, badRequest("Invalid JSON payload received. "+err.Error(), withStatus))
		return
	}
	var held []string
	for _, perm := range body.Permissions {
		if a.allowed(who.email, resource, perm) {
			held = append(held, perm)
		}
	}
	writeJSON(w, 200, permissionsJSON{Permissions: held})
}

// lifecycle runs start, stop, reset, suspend and resume: the status walks
// through its transitional state and the operation is DONE at the end.
func (a *API) lifecycle(w http.ResponseWriter, who caller, in cloud.Instance, method string) {
	type walk struct {
		from    []string
		via, to string
	}
	walks := map[string]walk{
		"start":   {[]string{"TERMINATED", "STOPPED"}, "STAGING", "RUNNING"},
		"stop":    {[]string{"RUNNING", "STAGING", "SUSPENDED"}, "STOPPING", "TERMINATED"},
		"reset":   {[]string{"RUNNING"}, "", "RUNNING"},
		"suspend": {[]string{"RUNNING"}, "SUSPENDING", "SUSPENDED"},
		"resume":  {[]string{"SUSPENDED"}, "STAGING", "RUNNING"},
	}
	wk, ok := walks[method]
	if !ok {
		writeError(w, newError(404, "notFound", "The requested URL was not found.", false))
		return
	}
	op := a.ops.start(&operation{Project: in.Project, Zone: in.Zone, Type: method, Target: instanceURL(in), TargetID: in.ID, User: who.email, Inserted: a.c.Now()})
	if in.Status == wk.to && (method == "start" || method == "stop") {
		// Already there: Compute answers with an operation that is done.
		a.ops.finish(op, a.c.Now())
		writeJSON(w, 200, a.ops.wire(op))
		return
	}
	if !slices.Contains(wk.from, in.Status) {
		writeError(w, newError(400, "resourceNotReady", fmt.Sprintf("The resource '%s' is not ready", in.ResourceName()), false))
		return
	}
	if wk.via != "" {
		if _, err := a.c.SetStatus(in.Project, in.Zone, in.Name, wk.via); err != nil {
			writeError(w, computeErr(err))
			return
		}
	}
	a.pending.Add(1)
	go func() {
		defer a.pending.Done()
		switch d := a.opts.Transition; {
		case a.transitionGate != nil:
			select {
			case <-a.transitionGate:
			case <-a.ctx.Done():
			}
		case d > 0:
			select {
			case <-time.After(d):
			case <-a.ctx.Done():
			}
		}
		// Another lifecycle call may have taken over meanwhile: only the
		// latest transition completes.
		if cur, err := a.c.Instance(in.Project, in.Zone, in.Name); err == nil && (wk.via == "" || cur.Status == wk.via) {
			if _, err := a.c.SetStatus(in.Project, in.Zone, in.Name, wk.to); err == nil {
				switch wk.to {
				case "RUNNING":
					a.serial.append(in.Key(), 1, "\r\n"+bootLog(in))
				case "TERMINATED":
					a.serial.append(in.Key(), 1, "\r\n[  OK  ] Reached target poweroff.target - System Power Off.\r\nreboot: Power down\r\n")
				}
			}
		}
		a.ops.finish(op, a.c.Now())
	}()
	writeJSON(w, 200, a.ops.wire(op))
}

type serialJSON struct {
	Kind     string `json:"kind"`
	Contents string `json:"contents"`
	Start    string `json:"start"`
	Next     string `json:"next"`
	SelfLink string `json:"selfLink"`
}

func (a *API) serialPort(w http.ResponseWriter, r *http.Request, in cloud.Instance) {
	q := r.URL.Query()
	port := 1
	if s := q.Get("port"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 4 {
			writeError(w, newError(400, "invalid", "Invalid value for field 'port': '"+s+"'. Must be greater than or equal to 1 and less than or equal to 4", false))
			return
		}
		port = n
	}
	var start int64
	if s := q.Get("start"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, newError(400, "invalid", "Invalid value for field 'start': '"+s+"'.", false))
			return
		}
		start = n
	}
	contents, from, next := a.serial.read(in.Key(), port, start)
	writeJSON(w, 200, serialJSON{
		Kind: "compute#serialPortOutput", Contents: contents, Start: strconv.FormatInt(from, 10),
		Next: strconv.FormatInt(next, 10), SelfLink: instanceURL(in) + "/serialPort",
	})
}

type firewallListJSON struct {
	Kind          string         `json:"kind"`
	ID            string         `json:"id"`
	Items         []firewallJSON `json:"items,omitempty"`
	NextPageToken string         `json:"nextPageToken,omitempty"`
	SelfLink      string         `json:"selfLink"`
}

func (a *API) listFirewalls(w http.ResponseWriter, r *http.Request, who caller, p string) {
	if !a.need(w, who, "projects/"+p, policy.PermFirewallsList) {
		return
	}
	max, off, ok := listPage(w, r)
	if !ok {
		return
	}
	pr, _ := a.c.Project(p)
	fws, ok := filterList(w, a.firewalls(pr), r.URL.Query().Get("filter"), firewallFields, "name, direction, disabled and priority")
	if !ok {
		return
	}
	off = min(off, len(fws))
	end := min(off+max, len(fws))
	out := firewallListJSON{Kind: "compute#firewallList", ID: "projects/" + p + "/global/firewalls", SelfLink: computeBase + "projects/" + p + "/global/firewalls"}
	for _, f := range fws[off:end] {
		out.Items = append(out.Items, firewallWire(p, f))
	}
	if end < len(fws) {
		out.NextPageToken = pageToken(end)
	}
	writeJSON(w, 200, out)
}

// firewalls returns a project's rules (the world's and those created
// through the API).
func (a *API) firewalls(pr cloud.Project) []world.Firewall {
	return pr.Firewalls
}

func (a *API) insertFirewall(w http.ResponseWriter, r *http.Request, who caller, p string) {
	if !a.need(w, who, "projects/"+p, policy.PermFirewallsCreate) {
		return
	}
	var body struct {
		firewallJSON
		// Priority 0 is the strongest rule, not "unset": only a missing
		// priority takes the default 1000.
		Priority *int `json:"priority"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, badRequest("Invalid JSON payload received. "+err.Error(), false))
		return
	}
	network, ok := firewallNetwork(p, body.Network)
	if !ok {
		writeError(w, newError(400, "invalid", "Invalid value for field 'resource.network': '"+body.Network+"'. The network must be global/networks/NAME or projects/"+p+"/global/networks/NAME (a network of this project).", false))
		return
	}
	f := world.Firewall{
		Name: body.Name, Network: network, Direction: body.Direction, Priority: body.Priority,
		Disabled: body.Disabled, SourceRanges: body.SourceRanges, SourceTags: body.SourceTags,
		SourceServiceAccounts: body.SourceServiceAccounts, TargetTags: body.TargetTags, TargetServiceAccounts: body.TargetServiceAccounts,
	}
	for _, x := range body.Allowed {
		f.Allowed = append(f.Allowed, world.Rule{IPProtocol: x.IPProtocol, Ports: x.Ports})
	}
	for _, x := range body.Denied {
		f.Denied = append(f.Denied, world.Rule{IPProtocol: x.IPProtocol, Ports: x.Ports})
	}
	if !firewallNameRE.MatchString(f.Name) {
		writeError(w, newError(400, "invalid", "Invalid value for field 'resource.name': '"+f.Name+"'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", false))
		return
	}
	if len(f.Allowed) == 0 && len(f.Denied) == 0 {
		writeError(w, newError(400, "invalid", "Invalid value for field 'resource.allowed': ''. Exactly one of allowed or denied must be set.", false))
		return
	}
	f, e := checkFirewall(p, f)
	if e != nil {
		writeError(w, e)
		return
	}
	pr, _ := a.c.Project(p)
	for _, x := range a.firewalls(pr) {
		if x.Name == f.Name {
			writeError(w, newError(409, "alreadyExists", "The resource 'projects/"+p+"/global/firewalls/"+f.Name+"' already exists", false))
			return
		}
	}
	if err := a.c.AddFirewall(p, f); err != nil {
		writeError(w, computeErr(err))
		return
	}
	op := a.ops.start(&operation{Project: p, Type: "insert", Target: computeBase + "projects/" + p + "/global/firewalls/" + f.Name, User: who.email, Inserted: a.c.Now()})
	a.finishAfter(op, a.opts.OperationDelay)
	writeJSON(w, 200, a.ops.wire(op))
}

// firewallNetwork reduces a firewall's network as clients send it (a URL,
// projects/P/global/networks/N, global/networks/N or a bare name; empty is
// default) to the name the world keeps; false for another project's.
func firewallNetwork(project, network string) (string, bool) {
	n := strings.TrimPrefix(network, computeBase)
	n = strings.TrimPrefix(n, "https://compute.googleapis.com/compute/v1/")
	if rest, ok := strings.CutPrefix(n, "projects/"); ok {
		owner, tail, _ := strings.Cut(rest, "/")
		if owner != project {
			return "", false
		}
		n = tail
	}
	n = strings.TrimPrefix(n, "global/networks/")
	if strings.Contains(n, "/") {
		return "", false
	}
	return n, true
}

// checkFirewall validates a rule to insert as a world file's rule is
// validated (ranges, ports, protocols, direction, priority), answering as
// Compute does. It returns the rule with its defaults.
func checkFirewall(project string, f world.Firewall) (world.Firewall, *apiError) {
	w := &world.World{Users: []world.User{{Email: "check@example.com"}}, Projects: []world.Project{{ID: project, Firewalls: []world.Firewall{f}}}}
	w.ApplyDefaults()
	var es world.Errors
	if err := w.Validate(); errors.As(err, &es) && len(es) > 0 {
		field := strings.TrimPrefix(strings.TrimPrefix(es[0].Path, "projects[0].firewalls[0]"), ".")
		if field == "" {
			field = "resource"
		} else {
			field = "resource." + field
		}
		return f, newError(400, "invalid", fmt.Sprintf("Invalid value for field '%s': %s", field, es[0].Msg), false)
	}
	return w.Projects[0].Firewalls[0], nil
}

func (a *API) effectiveFirewalls(w http.ResponseWriter, r *http.Request, in cloud.Instance) {
	if nic := r.URL.Query().Get("networkInterface"); nic != "" && nic != "nic0" {
		writeError(w, newError(400, "invalid", "Invalid value for field 'networkInterface': '"+nic+"'. The instance has no such network interface.", false))
		return
	}
	host := in.NetworkProject()
	out := struct {
		Firewalls       []firewallJSON `json:"firewalls"`
		FirewallPolicys []any          `json:"firewallPolicys"`
	}{Firewalls: []firewallJSON{}, FirewallPolicys: []any{}}
	hp, err := a.c.Project(host)
	if err == nil {
		for _, f := range a.firewalls(hp) {
			if world.NetworkPath(host, f.Network) != in.Network {
				continue
			}
			if !targets(f, in) {
				continue
			}
			out.Firewalls = append(out.Firewalls, firewallWire(host, f))
		}
	}
	writeJSON(w, 200, out)
}

func targets(f world.Firewall, in cloud.Instance) bool {
	if len(f.TargetTags) == 0 && len(f.TargetServiceAccounts) == 0 {
		return true
	}
	for _, t := range f.TargetTags {
		if slices.Contains(in.Tags, t) {
			return true
		}
	}
	return in.ServiceAccount != "" && slices.Contains(f.TargetServiceAccounts, in.ServiceAccount)
}

func (a *API) guestAttributes(w http.ResponseWriter, r *http.Request, in cloud.Instance) {
	q := r.URL.Query()
	path := q.Get("queryPath")
	variable := q.Get("variableKey")
	notFound := func() {
		writeError(w, newError(404, "notFound", "The resource '"+in.ResourceName()+"/guestAttributes/"+path+variable+"' was not found", false))
	}
	if in.Status != "RUNNING" || in.IsWindows() {
		notFound()
		return
	}
	// The guest agent publishes the host keys of the VM's SSH server: the
	// built-in server's, or those a real sshd behind port 22 presents.
	var keys []ssh.PublicKey
	switch addr, _ := a.c.Backend(in.Project, in.Zone, in.Name, 22); addr {
	case "":
	case world.BuiltinSSH:
		if hk, err := a.ssh.HostKey(in.Key()); err == nil {
			keys = append(keys, hk)
		}
	default:
		keys = a.hostKeys.probe(r.Context(), addr)
	}
	if len(keys) == 0 {
		notFound()
		return
	}
	type item struct {
		Namespace string `json:"namespace"`
		Key       string `json:"key"`
		Value     string `json:"value"`
	}
	var items []item
	for _, k := range keys {
		items = append(items, item{Namespace: "hostkeys", Key: k.Type(), Value: base64.StdEncoding.EncodeToString(k.Marshal())})
	}
	out := map[string]any{"kind": "compute#guestAttributes", "selfLink": instanceURL(in) + "/getGuestAttributes"}
	switch {
	case strings.HasPrefix(variable, "hostkeys/"):
		found := false
		for _, it := range items {
			if "hostkeys/"+it.Key == variable {
				out["variableKey"] = variable
				out["variableValue"] = it.Value
				found = true
			}
		}
		if !found {
			notFound()
			return
		}
	case variable == "" && (path == "hostkeys/" || path == "hostkeys" || path == ""):
		out["queryPath"] = path
		out["queryValue"] = map[string]any{"items": items}
	default:
		notFound()
		return
	}
	writeJSON(w, 200, out)
}

// hostKeyProber learns the host keys of real SSH servers behind VM ports
// by handshaking once per key type; answers are cached per address.
type hostKeyProber struct {
	mu    sync.Mutex
	cache map[string][]ssh.PublicKey
}

var probeAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512}

func (p *hostKeyProber) probe(ctx context.Context, addr string) []ssh.PublicKey {
	p.mu.Lock()
	keys, ok := p.cache[addr]
	p.mu.Unlock()
	if ok {
		return keys
	}
	for _, algo := range probeAlgorithms {
		if k := probeOne(ctx, addr, algo); k != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		p.mu.Lock()
		if p.cache == nil {
			p.cache = map[string][]ssh.PublicKey{}
		}
		p.cache[addr] = keys
		p.mu.Unlock()
	}
	return keys
}

var errGotHostKey = errors.New("host key received")

func probeOne(ctx context.Context, addr, algo string) ssh.PublicKey {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var got ssh.PublicKey
	ssh.NewClientConn(c, addr, &ssh.ClientConfig{
		User:              "hostkey-probe",
		HostKeyAlgorithms: []string{algo},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			got = k
			return errGotHostKey
		},
	})
	return got
}
