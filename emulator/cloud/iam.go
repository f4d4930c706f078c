package cloud

import (
	"fmt"
	"strings"

	"iapterm/emulator/world"
	"iapterm/policy"
)

// Decision is the outcome of an IAM check and why.
type Decision struct {
	Allowed bool
	// Resource, Role and Condition describe the binding that granted the
	// permission (empty when denied).
	Resource  string
	Role      string
	Condition *world.Condition
	// Reason explains the decision in a sentence, for logs and the doctor.
	Reason string
}

// Allowed decides whether member may use permission on resourceName under
// the request context r, the way IAM does: the policies of the resource and
// its ancestors are unioned, a binding applies when it grants a role that
// includes the permission, names the member (directly, through a group,
// allUsers or allAuthenticatedUsers) and its condition (CEL) is true.
//
// member is "user:EMAIL", "serviceAccount:EMAIL" or a bare email (a user);
// an empty member is an unauthenticated caller. resourceName is one of
// "projects/P" (or any Compute resource under it: project policy only),
// "projects/P/iap_tunnel", "projects/P/iap_tunnel/zones/Z" and
// "projects/P/iap_tunnel/zones/Z/instances/I"; P may be the project number.
// The error wraps ErrNotFound for a project or instance that does not exist.
func (c *Cloud) Allowed(member, resourceName, permission string, r policy.Request) (Decision, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	levels, err := c.policiesLocked(resourceName)
	if err != nil {
		return Decision{}, err
	}
	kind, email := splitMember(member)
	var groups []string
	if email != "" {
		groups = c.groupsOfLocked(email)
	}
	var failed []string
	for _, lv := range levels {
		for _, b := range lv.bindings {
			if !policy.RoleIncludes(b.Role, permission) || !memberMatches(b.Members, kind, email, groups) {
				continue
			}
			if b.Condition != nil {
				ok, err := policy.EvalCondition(b.Condition.Expression, r)
				if err != nil {
					failed = append(failed, fmt.Sprintf("condition %s on %s could not be evaluated: %v", conditionName(b.Condition), lv.resource, err))
					continue
				}
				if !ok {
					failed = append(failed, fmt.Sprintf("condition %s on %s is false for this request", conditionName(b.Condition), lv.resource))
					continue
				}
			}
			who := member
			if who == "" {
				who = "an unauthenticated caller"
			}
			return Decision{
				Allowed: true, Resource: lv.resource, Role: b.Role, Condition: b.Condition,
				Reason: fmt.Sprintf("%s holds %s on %s", who, b.Role, lv.resource),
			}, nil
		}
	}
	reason := fmt.Sprintf("no role granting %s on %s is bound to %s", permission, resourceName, member)
	if len(failed) > 0 {
		reason = fmt.Sprintf("%s is granted %s only under a condition: %s", member, permission, strings.Join(failed, "; "))
	}
	return Decision{Reason: reason}, nil
}

func conditionName(c *world.Condition) string {
	if c.Title != "" {
		return fmt.Sprintf("%q (%s)", c.Title, c.Expression)
	}
	return fmt.Sprintf("(%s)", c.Expression)
}

type policyLevel struct {
	resource string
	bindings []world.Binding
}

// policiesLocked returns the policies that apply to resourceName, from the
// project down.
func (c *Cloud) policiesLocked(resourceName string) ([]policyLevel, error) {
	parts := strings.Split(strings.Trim(resourceName, "/"), "/")
	if len(parts) < 2 || parts[0] != "projects" || parts[1] == "" {
		return nil, fmt.Errorf("resource %q must start with projects/PROJECT", resourceName)
	}
	p, err := c.projectLocked(parts[1])
	if err != nil {
		return nil, err
	}
	pid := p.def.ID
	levels := []policyLevel{{"projects/" + pid, p.def.IAM}}
	rest := parts[2:]
	if len(rest) == 0 || rest[0] != "iap_tunnel" {
		return levels, nil
	}
	levels = append(levels, policyLevel{"projects/" + pid + "/iap_tunnel", p.def.IAPTunnelIAM})
	switch {
	case len(rest) == 1, len(rest) == 3 && rest[1] == "zones":
		return levels, nil
	case len(rest) == 5 && rest[1] == "zones" && rest[3] == "instances":
		in, ok := p.instances[rest[2]+"/"+rest[4]]
		if !ok {
			return nil, notFound("projects/%s/zones/%s/instances/%s", pid, rest[2], rest[4])
		}
		return append(levels, policyLevel{"projects/" + pid + "/iap_tunnel/zones/" + rest[2] + "/instances/" + rest[4], in.def.IAPTunnelIAM}), nil
	}
	return nil, fmt.Errorf("resource %q is not an IAP tunnel resource (projects/P/iap_tunnel[/zones/Z[/instances/I]])", resourceName)
}

func splitMember(member string) (kind, email string) {
	if member == "" {
		return "", ""
	}
	k, e, ok := strings.Cut(member, ":")
	if !ok {
		return "user", strings.ToLower(member)
	}
	return k, strings.ToLower(e)
}

func memberMatches(members []string, kind, email string, groups []string) bool {
	for _, m := range members {
		switch m {
		case "allUsers":
			return true
		case "allAuthenticatedUsers":
			if email != "" {
				return true
			}
			continue
		}
		if email == "" {
			continue
		}
		mk, me, _ := strings.Cut(m, ":")
		me = strings.ToLower(me)
		switch mk {
		case "group":
			for _, g := range groups {
				if g == me {
					return true
				}
			}
		case "domain":
			// Domain members are the domain's user accounts only.
			if _, d, ok := strings.Cut(email, "@"); kind == "user" && ok && d == me {
				return true
			}
		default:
			if mk == kind && me == email {
				return true
			}
		}
	}
	return false
}
