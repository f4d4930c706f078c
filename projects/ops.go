package projects

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"
)

// Start starts a stopped instance and waits until the operation is done.
func (c *Client) Start(ctx context.Context, project, zone, name string) error {
	return c.lifecycle(ctx, project, zone, name, "start", "compute.instances.start",
		func() (*compute.Operation, error) {
			return c.compute.Instances.Start(project, zone, name).RequestId(requestID()).Context(ctx).Do()
		})
}

// Stop stops an instance and waits until the operation is done.
func (c *Client) Stop(ctx context.Context, project, zone, name string) error {
	return c.lifecycle(ctx, project, zone, name, "stop", "compute.instances.stop",
		func() (*compute.Operation, error) {
			return c.compute.Instances.Stop(project, zone, name).RequestId(requestID()).Context(ctx).Do()
		})
}

// Reset hard-resets an instance and waits until the operation is done.
func (c *Client) Reset(ctx context.Context, project, zone, name string) error {
	return c.lifecycle(ctx, project, zone, name, "reset", "compute.instances.reset",
		func() (*compute.Operation, error) {
			return c.compute.Instances.Reset(project, zone, name).RequestId(requestID()).Context(ctx).Do()
		})
}

// Suspend suspends an instance and waits until the operation is done.
func (c *Client) Suspend(ctx context.Context, project, zone, name string) error {
	return c.lifecycle(ctx, project, zone, name, "suspend", "compute.instances.suspend",
		func() (*compute.Operation, error) {
			return c.compute.Instances.Suspend(project, zone, name).RequestId(requestID()).Context(ctx).Do()
		})
}

// Resume resumes a suspended instance and waits until the operation is done.
func (c *Client) Resume(ctx context.Context, project, zone, name string) error {
	return c.lifecycle(ctx, project, zone, name, "resume", "compute.instances.resume",
		func() (*compute.Operation, error) {
			return c.compute.Instances.Resume(project, zone, name).RequestId(requestID()).Context(ctx).Do()
		})
}

func (c *Client) lifecycle(ctx context.Context, project, zone, name, verb, perm string, call func() (*compute.Operation, error)) error {
	o := instanceOp(project, zone, name, perm, "roles/compute.instanceAdmin.v1")
	opn, err := call()
	if err != nil {
		return fmt.Errorf("%s: %w", verb, o.translate(err))
	}
	if err := c.waitZoneOp(ctx, project, zone, opn, o); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}

// SerialPort reads serial port output (port 1..4) from byte offset start. It
// returns the new text and the offset to pass next time; when the console
// buffer discarded old output the returned text starts later than asked.
func (c *Client) SerialPort(ctx context.Context, project, zone, name string, port int, start int64) (string, int64, error) {
	if port < 1 || port > 4 {
		return "", start, fmt.Errorf("serial port %d does not exist: ports are 1 to 4", port)
	}
	out, err := c.compute.Instances.GetSerialPortOutput(project, zone, name).Port(int64(port)).Start(start).Context(ctx).Do()
	if err != nil {
		return "", start, instanceOp(project, zone, name, "compute.instances.getSerialPortOutput", "roles/compute.instanceAdmin.v1").translate(err)
	}
	return out.Contents, out.Next, nil
}

// GuestHostKeys returns the SSH host keys the guest agent published as guest
// attributes, by key type ("ssh-ed25519" to "AAAA..."). None published yet
// is an empty map, not an error.
func (c *Client) GuestHostKeys(ctx context.Context, project, zone, name string) (map[string]string, error) {
	ga, err := c.compute.Instances.GetGuestAttributes(project, zone, name).QueryPath("hostkeys/").Context(ctx).Do()
	if err != nil {
		err = instanceOp(project, zone, name, "compute.instances.getGuestAttributes", "roles/compute.viewer").translate(err)
		if errors.Is(err, ErrNotFound) {
			// 404 means no attributes yet, unless the instance itself is missing.
			if _, ierr := c.Instance(ctx, project, zone, name); ierr != nil {
				return nil, ierr
			}
			return map[string]string{}, nil
		}
		return nil, err
	}
	keys := map[string]string{}
	if ga.QueryValue != nil {
		for _, it := range ga.QueryValue.Items {
			if it != nil && (it.Namespace == "hostkeys" || it.Namespace == "") {
				keys[it.Key] = strings.TrimSpace(it.Value)
			}
		}
	}
	return keys, nil
}

// TestInstancePermissions returns the subset of perms the caller holds on
// the instance.
func (c *Client) TestInstancePermissions(ctx context.Context, project, zone, name string, perms []string) ([]string, error) {
	resp, err := c.compute.Instances.TestIamPermissions(project, zone, name, &compute.TestPermissionsRequest{Permissions: perms}).Context(ctx).Do()
	if err != nil {
		return nil, instanceOp(project, zone, name, "", "").translate(err)
	}
	return resp.Permissions, nil
}

// Firewall is a VPC firewall rule as the connectivity doctor reads it.
type Firewall struct {
	Name                  string         `json:"name"`
	Network               string         `json:"network"` // URL
	Direction             string         `json:"direction"`
	Priority              int64          `json:"priority"`
	Disabled              bool           `json:"disabled,omitempty"`
	SourceRanges          []string       `json:"sourceRanges,omitempty"`
	SourceTags            []string       `json:"sourceTags,omitempty"`
	SourceServiceAccounts []string       `json:"sourceServiceAccounts,omitempty"`
	TargetTags            []string       `json:"targetTags,omitempty"`
	TargetServiceAccounts []string       `json:"targetServiceAccounts,omitempty"`
	Allowed               []FirewallRule `json:"allowed,omitempty"`
	Denied                []FirewallRule `json:"denied,omitempty"`
}

// FirewallRule is a protocol and its ports ("22", "8000-8100"); no ports
// means every port.
type FirewallRule struct {
	Protocol string   `json:"protocol"`
	Ports    []string `json:"ports,omitempty"`
}

func firewallFrom(f *compute.Firewall) Firewall {
	fw := Firewall{
		Name: f.Name, Network: f.Network, Direction: f.Direction, Priority: f.Priority, Disabled: f.Disabled,
		SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts,
		TargetTags: f.TargetTags, TargetServiceAccounts: f.TargetServiceAccounts,
	}
	if fw.Direction == "" {
		fw.Direction = "INGRESS"
	}
	for _, a := range f.Allowed {
		if a != nil {
			fw.Allowed = append(fw.Allowed, FirewallRule{Protocol: a.IPProtocol, Ports: a.Ports})
		}
	}
	for _, d := range f.Denied {
		if d != nil {
			fw.Denied = append(fw.Denied, FirewallRule{Protocol: d.IPProtocol, Ports: d.Ports})
		}
	}
	return fw
}

// Firewalls lists the project's VPC firewall rules (all pages). For a shared
// VPC, pass the network's host project.
func (c *Client) Firewalls(ctx context.Context, project string) ([]Firewall, error) {
	var out []Firewall
	err := c.compute.Firewalls.List(project).MaxResults(c.pageSize()).Context(ctx).Pages(ctx, func(l *compute.FirewallList) error {
		for _, f := range l.Items {
			if f != nil {
				out = append(out, firewallFrom(f))
			}
		}
		return nil
	})
	if err != nil {
		return nil, projectOp(project, "compute.firewalls.list", "roles/compute.networkViewer").translate(err)
	}
	return out, nil
}

// EffectiveFirewalls returns the VPC firewall rules that apply to the
// instance's nic0, as Compute computes them. Hierarchical firewall policies
// in the answer are not returned.
func (c *Client) EffectiveFirewalls(ctx context.Context, project, zone, name string) ([]Firewall, error) {
	resp, err := c.compute.Instances.GetEffectiveFirewalls(project, zone, name, "nic0").Context(ctx).Do()
	if err != nil {
		return nil, instanceOp(project, zone, name, "compute.instances.getEffectiveFirewalls", "roles/compute.networkViewer").translate(err)
	}
	out := make([]Firewall, 0, len(resp.Firewalls))
	for _, f := range resp.Firewalls {
		if f != nil {
			out = append(out, firewallFrom(f))
		}
	}
	return out, nil
}
