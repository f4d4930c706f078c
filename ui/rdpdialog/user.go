package rdpdialog

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// keys shared by the RDP panels.
var (
	keyNext   = key.NewBinding(key.WithKeys("tab", "down", "shift+tab", "up"), key.WithHelp("tab", "next field"))
	keyAccept = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "accept"))
	keyCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
)

// UserPanel is the "Connect as user..." form: a Windows username and an
// optional domain, then the same launch as enter.
type UserPanel struct {
	c      *common.Common
	inst   projects.Instance
	user   textinput.Model
	domain textinput.Model
	focus  int
	err    string
	w, h   int
}

// NewUserPanel builds the form for inst, prefilled with the rdp.user and
// rdp.domain settings or a username derived from the account.
func NewUserPanel(c *common.Common, inst projects.Instance) *UserPanel {
	u := common.NewInput("Username: ", "Windows account")
	u.CharLimit = 20
	u.SetWidth(u.CharLimit)
	d := common.NewInput("Domain:   ", "none (local account)")
	d.CharLimit = 64
	d.SetWidth(40)
	if b := c.Backend.RDP; b != nil {
		user, domain := b.DefaultUser(inst)
		u.SetValue(user)
		d.SetValue(domain)
	}
	return &UserPanel{c: c, inst: inst, user: u, domain: d}
}

// Init focuses the username.
func (p *UserPanel) Init() tea.Cmd { return p.user.Focus() }

// SetSize implements panel.Panel.
func (p *UserPanel) SetSize(w, h int) { p.w, p.h = w, h }

// ShortHelp implements panel.Panel.
func (p *UserPanel) ShortHelp() []key.Binding {
	return []key.Binding{keyNext, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect")), keyCancel}
}

// ValidateDomain checks a NetBIOS or DNS domain name ("" is none).
func ValidateDomain(d string) error {
	if strings.ContainsAny(d, "\\/:*?\"<>| \t") {
		return errors.New("a domain name has no spaces or \\ / : * ? \" < > |: enter the NetBIOS name (e.g. CORP) or leave it empty")
	}
	return nil
}

// Update implements panel.Panel.
func (p *UserPanel) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, keyCancel):
		return panel.Close(nil)
	case key.Matches(k, keyNext):
		p.focus = 1 - p.focus
		if p.focus == 0 {
			p.domain.Blur()
			return p.user.Focus()
		}
		p.user.Blur()
		return p.domain.Focus()
	case key.Matches(k, keyAccept):
		user := strings.TrimSpace(p.user.Value())
		domain := strings.TrimSpace(p.domain.Value())
		// "DOMAIN\user" typed in one field is common: split it.
		if d, u, ok := strings.Cut(user, `\`); ok && domain == "" {
			domain, user = d, u
		}
		if err := rdp.ValidateUsername(user); err != nil {
			p.err = "Username: " + err.Error()
			return nil
		}
		if err := ValidateDomain(domain); err != nil {
			p.err = "Domain: " + err.Error()
			return nil
		}
		return panel.Close(Launch(p.c, p.inst, common.RDPRequest{Username: user, Domain: domain}))
	}
	var cmd tea.Cmd
	if p.focus == 0 {
		p.user, cmd = p.user.Update(msg)
	} else {
		p.domain, cmd = p.domain.Update(msg)
	}
	p.err = ""
	return cmd
}

// View implements panel.Panel.
func (p *UserPanel) View() string {
	st := p.c.Styles
	w := dialogWidth(p.w)
	lines := []string{
		st.DialogTitle.Width(w).Render("Connect to " + p.inst.Name + " as user"),
		st.Dim.Width(w).Render(p.inst.Project + " · " + p.inst.Zone),
		"",
		p.user.View(),
		p.domain.View(),
		"",
	}
	if p.err != "" {
		lines = append(lines, st.Error.Width(w).Render(p.err))
	}
	lines = append(lines, st.Dim.Width(w).Render("A password saved in the OS keyring for this user is used."),
		st.Dim.Width(w).Render("tab next field · enter connect · esc cancel"))
	return center(p.w, p.h, st.Dialog.Render(strings.Join(lines, "\n")))
}

func dialogWidth(w int) int {
	switch {
	case w <= 0:
		return 60
	case w-6 < 60:
		if w-6 < 20 {
			return 20
		}
		return w - 6
	}
	return 60
}

func center(w, h int, box string) string {
	if w <= 0 || h <= 0 {
		return box
	}
	return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
}
