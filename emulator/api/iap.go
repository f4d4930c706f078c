package api

import (
	"errors"
	"net/http"
	"strings"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

// iapResource checks an IAP tunnel resource name and returns the bindings
// set directly on it and the permission that reads them.
func (a *API) iapResource(name string) ([]world.Binding, string, *apiError) {
	parts := strings.Split(name, "/")
	denied := func() *apiError {
		return newError(403, "forbidden", "The caller does not have permission", true)
	}
	if len(parts) < 3 || parts[0] != "projects" || parts[2] != "iap_tunnel" {
		return nil, "", newError(400, "badRequest", "Invalid resource name '"+name+"': expected projects/PROJECT/iap_tunnel[/zones/ZONE[/instances/INSTANCE]]", true)
	}
	p, err := a.c.Project(parts[1])
	if err != nil {
		return nil, "", denied()
	}
	switch {
	case len(parts) == 3:
		return p.IAPTunnelIAM, "iap.tunnel.getIamPolicy", nil
	case len(parts) == 5 && parts[3] == "zones":
		return nil, "iap.tunnelZones.getIamPolicy", nil
	case len(parts) == 7 && parts[3] == "zones" && parts[5] == "instances":
		in, err := a.c.Instance(p.ID, parts[4], parts[6])
		if err != nil {
			var nf *cloud.NotFoundError
			if errors.As(err, &nf) {
				return nil, "", denied()
			}
			return nil, "", denied()
		}
		return in.IAPTunnelIAM, "iap.tunnelInstances.getIamPolicy", nil
	case len(parts) >= 4 && parts[3] == "locations":
		// Real resources, for tunnels to hosts by destination group:
		// say that they are not emulated rather than that they are wrong.
		return nil, "", newError(501, "notImplemented", "Destination groups ('"+name+"') are not emulated: the emulator serves projects/PROJECT/iap_tunnel[/zones/ZONE[/instances/INSTANCE]]", true)
	}
	return nil, "", newError(400, "badRequest", "Invalid resource name '"+name+"': expected projects/PROJECT/iap_tunnel[/zones/ZONE[/instances/INSTANCE]]", true)
}

func (a *API) iapTest(w http.ResponseWriter, r *http.Request, who caller, name string) {
	if _, _, e := a.iapResource(name); e != nil {
		writeError(w, e)
		return
	}
	a.testPermissions(w, r, who, name, true)
}

func (a *API) iapPolicy(w http.ResponseWriter, r *http.Request, who caller, name string) {
	bs, perm, e := a.iapResource(name)
	if e != nil {
		writeError(w, e)
		return
	}
	if !a.allowed(who.email, name, perm) {
		writeError(w, permissionDenied(perm, name))
		return
	}
	writeJSON(w, 200, policyWire(bs, requestedVersion(r)))
}
