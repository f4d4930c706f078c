package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"iapterm/endpoint"
	"iapterm/projects"
)

// ComputeFirewallCreator creates firewall rules with Compute's
// firewalls.insert and waits for the operation.
type ComputeFirewallCreator struct {
	svc *compute.Service
}

// NewComputeFirewallCreator builds a creator for the endpoints,
// authenticating with ts.
func NewComputeFirewallCreator(ctx context.Context, e endpoint.Endpoints, ts oauth2.TokenSource) (*ComputeFirewallCreator, error) {
	base, err := e.HTTPClient()
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = base.Transport
	if ts != nil {
		rt = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, ts), Base: rt}
	}
	svc, err := compute.NewService(ctx, option.WithHTTPClient(&http.Client{Transport: rt}), option.WithEndpoint(e.Compute))
	if err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	return &ComputeFirewallCreator{svc: svc}, nil
}

// CreateFirewall inserts fw into project and waits until it exists.
func (c *ComputeFirewallCreator) CreateFirewall(ctx context.Context, project string, fw projects.Firewall) error {
	body := &compute.Firewall{
		Name: fw.Name, Network: fw.Network, Direction: fw.Direction, Priority: fw.Priority,
		SourceRanges: fw.SourceRanges, TargetTags: fw.TargetTags, TargetServiceAccounts: fw.TargetServiceAccounts,
		Description: "Allows IAP TCP forwarding (created by iapterm doctor --fix)",
	}
	if body.Priority == 0 {
		// Compute reads an omitted priority as 1000; 0 must be sent.
		body.ForceSendFields = []string{"Priority"}
	}
	for _, a := range fw.Allowed {
		body.Allowed = append(body.Allowed, &compute.FirewallAllowed{IPProtocol: a.Protocol, Ports: a.Ports})
	}
	op, err := c.svc.Firewalls.Insert(project, body).Context(ctx).Do()
	for err == nil && op.Status != "DONE" {
		op, err = c.svc.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
	}
	if err != nil {
		return explainCreate(project, fw.Name, err)
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		var msgs []string
		for _, e := range op.Error.Errors {
			msgs = append(msgs, e.Message)
		}
		return fmt.Errorf("creating firewall rule %s in project %s failed: %s", fw.Name, project, strings.Join(msgs, "; "))
	}
	return nil
}

func explainCreate(project, name string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusForbidden:
			return fmt.Errorf("you lack permission compute.firewalls.create on project %s (role roles/compute.securityAdmin grants it): %w", project, err)
		case http.StatusConflict:
			return fmt.Errorf("a firewall rule named %s already exists in project %s: %w", name, project, err)
		}
	}
	return fmt.Errorf("creating firewall rule %s in project %s: %w", name, project, err)
}
