package projects

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"iapterm/auth"
)

// SearchProjects returns up to limit ACTIVE projects whose name or ID
// contains term (case-insensitive), sorted by ID. An empty term lists every
// project the caller can see.
func (c *Client) SearchProjects(ctx context.Context, term string, limit int) ([]Project, error) {
	if limit <= 0 {
		limit = 200
	}
	call := c.crm.Projects.List().Context(ctx).PageSize(min(int64(limit), c.pageSize()))
	if f := projectFilter(term); f != "" {
		call = call.Filter(f)
	}
	var out []Project
	errStop := errors.New("enough")
	err := call.Pages(ctx, func(resp *cloudresourcemanager.ListProjectsResponse) error {
		for _, p := range resp.Projects {
			if p == nil || p.LifecycleState != "ACTIVE" {
				continue
			}
			out = append(out, projectFromV1(p))
			if len(out) >= limit {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, op{what: "the project list", perm: "resourcemanager.projects.list", role: "roles/browser"}.translate(err)
	}
	slices.SortFunc(out, func(a, b Project) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// projectFilter builds the Resource Manager filter IAP Desktop uses.
func projectFilter(term string) string {
	term = strings.TrimSpace(term)
	if term == "" {
		return ""
	}
	// Quotes and backslashes would end the quoted value early.
	term = strings.NewReplacer(`\`, ``, `"`, ``).Replace(term)
	return fmt.Sprintf(`name:"*%s*" OR id:"*%s*"`, term, term)
}

func projectFromV1(p *cloudresourcemanager.Project) Project {
	pr := Project{ID: p.ProjectId, Name: p.Name, State: p.LifecycleState, Labels: p.Labels}
	if p.ProjectNumber != 0 {
		pr.Number = strconv.FormatInt(p.ProjectNumber, 10)
	}
	if p.Parent != nil && p.Parent.Type != "" {
		pr.Parent = p.Parent.Type + "s/" + p.Parent.Id
	}
	return pr
}

// Project returns one project's details.
func (c *Client) Project(ctx context.Context, id string) (*Project, error) {
	p, err := c.crm.Projects.Get(id).Context(ctx).Do()
	if err != nil {
		return nil, projectOp(id, "resourcemanager.projects.get", "roles/browser").translate(err)
	}
	pr := projectFromV1(p)
	return &pr, nil
}

// ListInstances lists every instance of a project with one aggregated list
// (all pages), sorted by name. Warnings name zones that could not be read;
// the instances of the other zones are still returned.
func (c *Client) ListInstances(ctx context.Context, project string) ([]Instance, []string, error) {
	var out []Instance
	var warnings []string
	err := c.aggregated(ctx, project, "", func(ci *compute.Instance) {
		out = append(out, ParseInstance(project, ci))
	}, &warnings, &out)
	if err != nil {
		return nil, nil, err
	}
	return out, warnings, nil
}

// aggregated walks every page of the project's aggregated instance list.
func (c *Client) aggregated(ctx context.Context, project, filter string, each func(*compute.Instance), warnings *[]string, out *[]Instance) error {
	token := ""
	seen := map[string]bool{}
	for {
		call := c.compute.Instances.AggregatedList(project).Context(ctx).MaxResults(c.pageSize())
		if filter != "" {
			call = call.Filter(filter)
		}
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do(googleapi.QueryParameter("returnPartialSuccess", "true"))
		if err != nil {
			return projectOp(project, "compute.instances.list", "roles/compute.viewer").translate(err)
		}
		for scope, sl := range resp.Items {
			for _, ci := range sl.Instances {
				if ci != nil {
					each(ci)
				}
			}
			if w := sl.Warning; w != nil && w.Code != "NO_RESULTS_ON_PAGE" && !seen[scope+w.Code] {
				seen[scope+w.Code] = true
				*warnings = append(*warnings, fmt.Sprintf("%s: %s", ShortName(scope), w.Message))
			}
		}
		for _, u := range resp.Unreachables {
			if !seen["unreachable "+u] {
				seen["unreachable "+u] = true
				*warnings = append(*warnings, fmt.Sprintf("%s is unreachable: its instances are not shown", ShortName(u)))
			}
		}
		if resp.NextPageToken == "" || resp.NextPageToken == token {
			break
		}
		token = resp.NextPageToken
	}
	if out != nil {
		sortInstances(*out)
	}
	slices.Sort(*warnings)
	return nil
}

func sortInstances(in []Instance) {
	slices.SortFunc(in, func(a, b Instance) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Zone, b.Zone)
	})
}

// Inventory lists the instances of every project concurrently (at most
// c.Concurrency at once). A project that fails (403, 404, API disabled) gets
// a warning and does not stop the others; only cancellation, or credentials
// that are rejected everywhere, return an error.
func (c *Client) Inventory(ctx context.Context, projects []Project) (*Inventory, error) {
	inv := &Inventory{
		Projects:  append([]Project(nil), projects...),
		Instances: make(map[string][]Instance, len(projects)),
		Warnings:  map[string][]string{},
	}
	var mu sync.Mutex
	var authErr error
	g, gctx := errgroup.WithContext(ctx)
	n := c.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	g.SetLimit(n)
	for _, p := range projects {
		g.Go(func() error {
			list, warns, err := c.ListInstances(gctx, p.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, auth.ErrSignInExpired) {
					authErr = err
					return err // no point asking the other projects
				}
				warns = append(warns, err.Error())
				inv.Failed = append(inv.Failed, p.ID)
			}
			if list == nil {
				list = []Instance{}
			}
			inv.Instances[p.ID] = list
			if len(warns) > 0 {
				inv.Warnings[p.ID] = warns
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if authErr != nil {
			return nil, authErr
		}
		return nil, err
	}
	if len(inv.Warnings) == 0 {
		inv.Warnings = nil
	}
	slices.Sort(inv.Failed)
	inv.Loaded = time.Now().UTC()
	return inv, nil
}

// Resolve finds an instance. With a zone it is a plain get; without one the
// project's aggregated list is searched by name, and a name that exists in
// several zones is an error listing them.
func (c *Client) Resolve(ctx context.Context, project, zone, name string) (*Instance, error) {
	if zone != "" {
		return c.Instance(ctx, project, zone, name)
	}
	var found []Instance
	var warnings []string
	err := c.aggregated(ctx, project, fmt.Sprintf("name = %q", name), func(ci *compute.Instance) {
		if ci.Name == name {
			found = append(found, ParseInstance(project, ci))
		}
	}, &warnings, nil)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		msg := fmt.Sprintf("instance %s not found in project %s", name, project)
		if len(warnings) > 0 {
			msg += " (" + strings.Join(warnings, "; ") + ")"
		}
		return nil, &Error{Code: 404, Reason: "notFound", msg: msg}
	case 1:
		return &found[0], nil
	}
	zones := make([]string, len(found))
	for i, f := range found {
		zones[i] = f.Zone
	}
	slices.Sort(zones)
	return nil, fmt.Errorf("instance %s exists in several zones of project %s (%s): give the zone", name, project, strings.Join(zones, ", "))
}

// Instance gets one instance.
func (c *Client) Instance(ctx context.Context, project, zone, name string) (*Instance, error) {
	ci, err := c.compute.Instances.Get(project, zone, name).Context(ctx).Do()
	if err != nil {
		return nil, instanceOp(project, zone, name, "compute.instances.get", "roles/compute.viewer").translate(err)
	}
	in := ParseInstance(project, ci)
	return &in, nil
}
