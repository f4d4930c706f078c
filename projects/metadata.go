package projects

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
)

// MetadataAttempts is how many read-modify-write rounds a metadata update
// tries before giving up on concurrent writers (412s).
const MetadataAttempts = 6

// MutateFunc edits metadata items in place and reports whether it changed
// anything. Returning an error aborts the update without writing.
type MutateFunc func(items map[string]string) (changed bool, err error)

// ProjectMetadata returns the project's common instance metadata.
func (c *Client) ProjectMetadata(ctx context.Context, project string) (map[string]string, error) {
	p, err := c.compute.Projects.Get(project).Fields("commonInstanceMetadata", "name").Context(ctx).Do()
	if err != nil {
		return nil, projectOp(project, "compute.projects.get", "roles/compute.viewer").translate(err)
	}
	if p.CommonInstanceMetadata == nil {
		return map[string]string{}, nil
	}
	return metadataMap(p.CommonInstanceMetadata.Items), nil
}

// UpdateInstanceMetadata reads the instance's metadata, lets mutate edit it
// and writes it back with the fingerprint just read, retrying when another
// writer got there first (412). Nothing is written when nothing changed.
// It waits for the operation to finish.
func (c *Client) UpdateInstanceMetadata(ctx context.Context, project, zone, name string, mutate MutateFunc) error {
	o := instanceOp(project, zone, name, "compute.instances.setMetadata", "roles/compute.instanceAdmin.v1")
	return retryMetadata(ctx, o, func() error {
		ci, err := c.compute.Instances.Get(project, zone, name).Fields("metadata", "name").Context(ctx).Do()
		if err != nil {
			return instanceOp(project, zone, name, "compute.instances.get", "roles/compute.viewer").translate(err)
		}
		md, changed, err := applyMutation(ci.Metadata, mutate)
		if err != nil || !changed {
			return err
		}
		opn, err := c.compute.Instances.SetMetadata(project, zone, name, md).RequestId(requestID()).Context(ctx).Do()
		if err != nil {
			return o.translate(err)
		}
		return c.waitZoneOp(ctx, project, zone, opn, o)
	})
}

// UpdateProjectMetadata is UpdateInstanceMetadata for the project's common
// instance metadata.
func (c *Client) UpdateProjectMetadata(ctx context.Context, project string, mutate MutateFunc) error {
	o := projectOp(project, "compute.projects.setCommonInstanceMetadata", "roles/compute.instanceAdmin.v1")
	o.what = "metadata of project " + project
	return retryMetadata(ctx, o, func() error {
		p, err := c.compute.Projects.Get(project).Fields("commonInstanceMetadata", "name").Context(ctx).Do()
		if err != nil {
			return projectOp(project, "compute.projects.get", "roles/compute.viewer").translate(err)
		}
		md, changed, err := applyMutation(p.CommonInstanceMetadata, mutate)
		if err != nil || !changed {
			return err
		}
		opn, err := c.compute.Projects.SetCommonInstanceMetadata(project, md).RequestId(requestID()).Context(ctx).Do()
		if err != nil {
			return o.translate(err)
		}
		return c.waitGlobalOp(ctx, project, opn, o)
	})
}

func retryMetadata(ctx context.Context, o op, attempt func() error) error {
	var err error
	for range MetadataAttempts {
		err = attempt()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%s kept changing underneath iapterm (%d attempts): %w", o.what, MetadataAttempts, err)
}

// applyMutation runs mutate on a copy of the items and builds the new
// metadata: existing keys keep their order, new keys follow sorted. changed
// is false when the result equals the input, whatever mutate said.
func applyMutation(md *compute.Metadata, mutate MutateFunc) (*compute.Metadata, bool, error) {
	if md == nil {
		md = &compute.Metadata{}
	}
	before := metadataMap(md.Items)
	items := maps.Clone(before)
	changed, err := mutate(items)
	if err != nil {
		return nil, false, err
	}
	if !changed || maps.Equal(before, items) {
		return nil, false, nil
	}
	if err := validateMetadata(items); err != nil {
		return nil, false, err
	}
	out := &compute.Metadata{Kind: "compute#metadata", Fingerprint: md.Fingerprint}
	placed := map[string]bool{}
	for _, it := range md.Items {
		if it == nil || placed[it.Key] {
			continue
		}
		if v, ok := items[it.Key]; ok {
			out.Items = append(out.Items, &compute.MetadataItems{Key: it.Key, Value: googleapi.String(v)})
			placed[it.Key] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(items)) {
		if !placed[k] {
			out.Items = append(out.Items, &compute.MetadataItems{Key: k, Value: googleapi.String(items[k])})
		}
	}
	if len(out.Items) == 0 {
		// An empty list must still be sent to clear every item.
		out.ForceSendFields = []string{"Items"}
	}
	return out, true, nil
}

// Compute's metadata limits.
const (
	maxMetadataValue = 256 << 10
	maxMetadataTotal = 512 << 10
)

// validateMetadata checks Compute's limits before writing, so the user gets
// a clear error instead of a 400.
func validateMetadata(items map[string]string) error {
	total := 0
	for k, v := range items {
		if !validMetadataKey(k) {
			return fmt.Errorf("metadata key %q is invalid: use 1 to 128 letters, digits, '-' or '_'", k)
		}
		if len(v) > maxMetadataValue {
			return fmt.Errorf("metadata value of %q is %d bytes; Compute allows at most 256 KiB per value", k, len(v))
		}
		total += len(k) + len(v)
	}
	if total > maxMetadataTotal {
		return fmt.Errorf("metadata would be %d bytes; Compute allows at most 512 KB in total: remove unused entries (e.g. expired ssh-keys)", total)
	}
	return nil
}

func validMetadataKey(k string) bool {
	if len(k) == 0 || len(k) > 128 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// requestID makes a write idempotent if the library retries it.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// waitZoneOp waits until a zonal operation is DONE and returns its error.
func (c *Client) waitZoneOp(ctx context.Context, project, zone string, opn *compute.Operation, o op) error {
	var err error
	for opn.Status != "DONE" {
		if opn, err = c.compute.ZoneOperations.Wait(project, zone, opn.Name).Context(ctx).Do(); err != nil {
			return fmt.Errorf("waiting for the operation on %s: %w", o.what, op{what: "operation", perm: "compute.zoneOperations.get", role: "roles/compute.viewer"}.translate(err))
		}
	}
	return opError(opn, o)
}

func (c *Client) waitGlobalOp(ctx context.Context, project string, opn *compute.Operation, o op) error {
	var err error
	for opn.Status != "DONE" {
		if opn, err = c.compute.GlobalOperations.Wait(project, opn.Name).Context(ctx).Do(); err != nil {
			return fmt.Errorf("waiting for the operation on %s: %w", o.what, op{what: "operation", perm: "compute.globalOperations.get", role: "roles/compute.viewer"}.translate(err))
		}
	}
	return opError(opn, o)
}

// opError turns a failed operation into the same errors as a failed call.
func opError(opn *compute.Operation, o op) error {
	if opn.Error == nil || len(opn.Error.Errors) == 0 {
		return nil
	}
	first := opn.Error.Errors[0]
	code := int(opn.HttpErrorStatusCode)
	if code == 0 {
		code = http.StatusBadRequest
	}
	ge := &googleapi.Error{Code: code, Message: first.Message, Errors: []googleapi.ErrorItem{{Reason: first.Code, Message: first.Message}}}
	return o.translate(ge)
}
