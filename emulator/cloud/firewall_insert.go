package cloud

import (
	"fmt"
	"slices"

	"iapterm/emulator/world"
)

// AddFirewall adds a firewall rule to a project (Compute's
// firewalls.insert); a rule of the same name is an error.
func (c *Cloud) AddFirewall(projectID string, f world.Firewall) error {
	c.mu.Lock()
	p, err := c.projectLocked(projectID)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	if slices.ContainsFunc(p.def.Firewalls, func(x world.Firewall) bool { return x.Name == f.Name }) {
		c.mu.Unlock()
		return fmt.Errorf("firewall %q already exists in project %s", f.Name, p.def.ID)
	}
	p.def.Firewalls = append(p.def.Firewalls, f)
	c.mu.Unlock()
	c.changed()
	return nil
}
