// Command kubelet-harness runs an image credential provider plugin through the kubelet's own code
// (k8s.io/kubernetes/pkg/credentialprovider/plugin and the keyring in pkg/credentialprovider), so tests
// can check the plugin and the CredentialProviderConfig files written for it as a real kubelet sees them.
//
//	kubelet-harness validate [--bin-dir DIR] CONFIG
//	kubelet-harness lookup   --config CONFIG --bin-dir DIR [--raw] IMAGE...
//	kubelet-harness exec     --bin-dir DIR (--config CONFIG [--name NAME] | --name NAME --api-version V [--arg A]... [--env K=V]...) IMAGE
//
// Every subcommand also takes --feature-gates (the kubelet's syntax) and -v (klog verbosity).
// Output is JSON on stdout, one line per result; see ../README.md.
//
// Registration, config reading and validation, request encoding, the plugin's execution, the strict
// response decoding, matchImages filtering, the response cache and the keyring lookup are all the
// kubelet's code. The harness only reaches into the registered providers (by reflection, since the
// types are unexported) to describe them and to wrap each provider's exec Plugin with a recorder that
// passes every call through unchanged and notes what the kubelet decoded.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-logr/logr/funcr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
	credentialproviderapi "k8s.io/kubelet/pkg/apis/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"k8s.io/kubernetes/pkg/util/parsers"
	"sigs.k8s.io/yaml"
)

const usage = `usage:
  kubelet-harness validate [--bin-dir DIR] CONFIG
  kubelet-harness lookup   --config CONFIG --bin-dir DIR [--raw] IMAGE...
  kubelet-harness exec     --bin-dir DIR (--config CONFIG [--name NAME] | --name NAME --api-version V [--arg A]... [--env K=V]...) IMAGE
common flags: --feature-gates K=bool,... (kubelet feature gates)  -v N (klog verbosity of the captured log)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "validate":
		code = cmdValidate(os.Args[2:])
	case "lookup":
		code = cmdLookup(os.Args[2:])
	case "exec":
		code = cmdExec(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kubelet-harness: unknown subcommand %q\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}

// ---- common flags, logging ----

type common struct {
	featureGates string
	verbosity    int
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.featureGates, "feature-gates", "", "kubelet feature gates, e.g. KubeletServiceAccountTokenForCredentialProviders=false")
	fs.IntVar(&c.verbosity, "v", 0, "klog verbosity of the captured kubelet log")
}

// apply sets the feature gates and routes klog into the capture buffer.
func (c *common) apply() error {
	if c.featureGates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(c.featureGates); err != nil {
			return fmt.Errorf("--feature-gates: %w", err)
		}
	}
	kfs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(kfs)
	_ = kfs.Set("v", strconv.Itoa(c.verbosity))
	klog.SetLogger(funcr.NewJSON(capture.add, funcr.Options{Verbosity: 100}))
	return nil
}

// capture collects what the kubelet code logs (errors such as "Failed to provide credentials for image"
// and, with -v, its info lines) so each result line can carry the log written while producing it.
var capture logCapture

type logCapture struct {
	mu      sync.Mutex
	entries []json.RawMessage
}

// add receives one entry as a JSON object: "msg", "error" for errors, "v" for info, and the key/values.
func (l *logCapture) add(obj string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, json.RawMessage(obj))
}

func (l *logCapture) take() []json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.entries
	l.entries = nil
	if out == nil {
		out = []json.RawMessage{}
	}
	return out
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "kubelet-harness: "+format+"\n", a...)
	return code
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// ---- registration (the kubelet's startup path) ----

func noServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	return nil, errors.New("kubelet-harness: no service account tokens")
}

func noServiceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	return nil, errors.New("kubelet-harness: no service accounts")
}

// register is what the kubelet does at startup with --image-credential-provider-config and
// --image-credential-provider-bin-dir (kuberuntime.NewKubeGenericRuntimeManager): read and validate
// the config, check every provider's executable, register the providers. The kubelet exits on an error.
func register(configPath, binDir string) error {
	return plugin.RegisterCredentialProviderPlugins(configPath, binDir, noServiceAccountToken, noServiceAccount)
}

// ---- reflection into the registered providers ----

// accessible returns a settable, interface-able view of a (possibly unexported) struct field.
func accessible(structVal reflect.Value, name string) reflect.Value {
	f := structVal.FieldByName(name)
	if !f.IsValid() {
		panic(fmt.Sprintf("kubelet-harness: %s has no field %q: the pinned kubelet code changed; update the harness", structVal.Type(), name))
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

type registered struct {
	name        string
	pluginField reflect.Value // pluginProvider.plugin (type plugin.Plugin), settable
	provider    reflect.Value // the pluginProvider struct
}

// registeredProviders walks NewExternalCredentialProviderDockerKeyring's result
// (*externalCredentialProviderKeyring -> []*perPodPluginProvider -> *pluginProvider), in registration order.
func registeredProviders() []registered {
	kr := plugin.NewExternalCredentialProviderDockerKeyring("", "", "", "")
	v := reflect.ValueOf(kr)
	if v.Kind() != reflect.Pointer {
		panic(fmt.Sprintf("kubelet-harness: unexpected keyring type %T", kr))
	}
	list := accessible(v.Elem(), "providers")
	var out []registered
	for i := 0; i < list.Len(); i++ {
		perPod := list.Index(i).Elem().Elem() // interface -> *perPodPluginProvider -> struct
		pp := accessible(perPod, "provider").Elem()
		out = append(out, registered{
			name:        accessible(pp, "name").String(),
			pluginField: accessible(pp, "plugin"),
			provider:    pp,
		})
	}
	return out
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type providerInfo struct {
	Name                 string   `json:"name"`
	APIVersion           string   `json:"apiVersion"`
	Args                 []string `json:"args"`
	Env                  []envVar `json:"env"`
	MatchImages          []string `json:"matchImages"`
	DefaultCacheDuration string   `json:"defaultCacheDuration"`
	TokenAttributes      bool     `json:"tokenAttributes"`
}

// describe reports a provider as the kubelet decoded it from the config.
func describe(r registered) providerInfo {
	info := providerInfo{Name: r.name, Args: []string{}, Env: []envVar{}, MatchImages: []string{}}
	mi := accessible(r.provider, "matchImages")
	for i := 0; i < mi.Len(); i++ {
		info.MatchImages = append(info.MatchImages, mi.Index(i).String())
	}
	d := accessible(r.provider, "defaultCacheDuration")
	info.DefaultCacheDuration = d.Interface().(fmt.Stringer).String()
	info.TokenAttributes = !accessible(r.provider, "serviceAccountProvider").IsNil()
	p := r.pluginField
	if rp, ok := p.Interface().(*recordingPlugin); ok {
		p = reflect.ValueOf(&rp.inner).Elem()
	}
	exec := p.Elem().Elem() // interface -> *execPlugin -> struct
	info.APIVersion = accessible(exec, "apiVersion").String()
	args := accessible(exec, "args")
	for i := 0; i < args.Len(); i++ {
		info.Args = append(info.Args, args.Index(i).String())
	}
	env := accessible(exec, "envVars")
	for i := 0; i < env.Len(); i++ {
		e := env.Index(i)
		info.Env = append(info.Env, envVar{Name: e.FieldByName("Name").String(), Value: e.FieldByName("Value").String()})
	}
	return info
}

// ---- recording the plugin calls ----

type authOut struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type responseOut struct {
	CacheKeyType  string             `json:"cacheKeyType"`
	CacheDuration *string            `json:"cacheDuration"` // null when the plugin sent none
	Auth          map[string]authOut `json:"auth"`          // null when the plugin sent none
}

type execRecord struct {
	Provider string       `json:"provider"`
	Image    string       `json:"image"` // what the kubelet put in the request
	Response *responseOut `json:"response,omitempty"`
	Error    string       `json:"error,omitempty"`
}

func responseView(r *credentialproviderapi.CredentialProviderResponse) *responseOut {
	out := &responseOut{CacheKeyType: string(r.CacheKeyType)}
	if r.CacheDuration != nil {
		s := r.CacheDuration.Duration.String()
		out.CacheDuration = &s
	}
	if r.Auth != nil {
		out.Auth = map[string]authOut{}
		for k, a := range r.Auth {
			out.Auth[k] = authOut{Username: a.Username, Password: a.Password}
		}
	}
	return out
}

// recordingPlugin wraps the kubelet's execPlugin: same arguments in, same results out, plus a record.
type recordingPlugin struct {
	provider string
	inner    plugin.Plugin
	mu       *sync.Mutex
	records  *[]execRecord
}

func (r *recordingPlugin) ExecPlugin(ctx context.Context, image, serviceAccountToken string, serviceAccountAnnotations map[string]string) (*credentialproviderapi.CredentialProviderResponse, error) {
	resp, err := r.inner.ExecPlugin(ctx, image, serviceAccountToken, serviceAccountAnnotations)
	rec := execRecord{Provider: r.provider, Image: image}
	if err != nil {
		rec.Error = err.Error()
	} else if resp != nil {
		rec.Response = responseView(resp)
	}
	r.mu.Lock()
	*r.records = append(*r.records, rec)
	r.mu.Unlock()
	return resp, err
}

type recorder struct {
	mu      sync.Mutex
	records []execRecord
	plugins map[string]*recordingPlugin
}

func (rc *recorder) install(providers []registered) {
	rc.plugins = map[string]*recordingPlugin{}
	for _, p := range providers {
		inner := p.pluginField.Interface().(plugin.Plugin)
		rp := &recordingPlugin{provider: p.name, inner: inner, mu: &rc.mu, records: &rc.records}
		p.pluginField.Set(reflect.ValueOf(plugin.Plugin(rp)))
		rc.plugins[p.name] = rp
	}
}

func (rc *recorder) take() []execRecord {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.records
	rc.records = nil
	if out == nil {
		out = []execRecord{}
	}
	return out
}

// ---- validate ----

type configNames struct {
	Providers []struct {
		Name string `json:"name"`
	} `json:"providers"`
}

// providerNames lists the provider names in a config file or directory (read the way the kubelet reads
// it: a directory's *.json, *.yaml, *.yml files). Only used to create placeholder executables.
func providerNames(configPath string) []string {
	files := []string{configPath}
	if st, err := os.Stat(configPath); err == nil && st.IsDir() {
		files = nil
		entries, _ := os.ReadDir(configPath)
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".json", ".yaml", ".yml":
				files = append(files, filepath.Join(configPath, e.Name()))
			}
		}
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var c configNames
		if yaml.Unmarshal(data, &c) != nil {
			continue
		}
		for _, p := range c.Providers {
			names = append(names, p.Name)
		}
	}
	return names
}

type validateOut struct {
	Valid     bool              `json:"valid"`
	Error     string            `json:"error,omitempty"`
	Providers []providerInfo    `json:"providers,omitempty"`
	Log       []json.RawMessage `json:"log"`
}

func cmdValidate(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var c common
	c.register(fs)
	binDir := fs.String("bin-dir", "", "also require every provider's executable in DIR, as the kubelet does at startup (default: placeholders in a temporary directory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		return fail(2, "validate takes one CONFIG (file or directory)")
	}
	if err := c.apply(); err != nil {
		return fail(2, "%v", err)
	}
	configPath := fs.Arg(0)
	dir := *binDir
	if dir == "" {
		// The kubelet validates the config before it looks for the executables, and a valid config
		// needs each one present; give it empty executables named after the providers.
		tmp, err := os.MkdirTemp("", "kubelet-harness-bin-")
		if err != nil {
			return fail(1, "%v", err)
		}
		defer os.RemoveAll(tmp)
		for _, n := range providerNames(configPath) {
			if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
				continue // the kubelet's validation rejects these names before any executable is looked up
			}
			_ = os.WriteFile(filepath.Join(tmp, n), []byte("#!/bin/sh\nexit 1\n"), 0o755)
		}
		dir = tmp
	}
	if err := register(configPath, dir); err != nil {
		emit(validateOut{Valid: false, Error: err.Error(), Log: capture.take()})
		return fail(1, "%v", err)
	}
	out := validateOut{Valid: true}
	for _, p := range registeredProviders() {
		out.Providers = append(out.Providers, describe(p))
	}
	out.Log = capture.take()
	emit(out)
	return 0
}

// ---- lookup ----

type lookupOut struct {
	Image      string            `json:"image"`
	Repository string            `json:"repository"` // what the kubelet looks up (parsers.ParseImageName), or IMAGE with --raw
	Found      bool              `json:"found"`
	Auths      []authOut         `json:"auths"`
	Execs      []execRecord      `json:"execs"` // plugin runs for this image, in order (none when served from the kubelet's cache)
	Error      string            `json:"error,omitempty"`
	Log        []json.RawMessage `json:"log"`
}

func cmdLookup(args []string) int {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	var c common
	c.register(fs)
	config := fs.String("config", "", "CredentialProviderConfig file or directory (--image-credential-provider-config)")
	binDir := fs.String("bin-dir", "", "plugin directory (--image-credential-provider-bin-dir)")
	raw := fs.Bool("raw", false, "look IMAGE up as given instead of normalising it as the kubelet's image manager does")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" || *binDir == "" || fs.NArg() == 0 {
		return fail(2, "lookup needs --config, --bin-dir and at least one IMAGE")
	}
	if err := c.apply(); err != nil {
		return fail(2, "%v", err)
	}
	if err := register(*config, *binDir); err != nil {
		return fail(1, "registering credential providers: %v", err)
	}
	var rc recorder
	rc.install(registeredProviders())
	capture.take()

	for _, image := range fs.Args() {
		out := lookupOut{Image: image, Repository: image, Auths: []authOut{}}
		if !*raw {
			// pkg/kubelet/images.(*imageManager).makeLookupPullCredentialsFunc
			repo, _, _, err := parsers.ParseImageName(image)
			if err != nil {
				out.Error = err.Error()
				out.Repository = ""
				out.Execs, out.Log = rc.take(), capture.take()
				emit(out)
				continue
			}
			out.Repository = repo
		}
		// A new keyring per pull, as the kubelet makes one per pod; the providers (and their response
		// caches) are the registered ones and live for the whole run, as in the kubelet.
		keyring := plugin.NewExternalCredentialProviderDockerKeyring("", "", "", "")
		var auths []credentialprovider.TrackedAuthConfig
		auths, out.Found = keyring.Lookup(out.Repository)
		for _, a := range auths {
			out.Auths = append(out.Auths, authOut{Username: a.Username, Password: a.Password})
		}
		out.Execs, out.Log = rc.take(), capture.take()
		emit(out)
	}
	return 0
}

// ---- exec ----

func cmdExec(args []string) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var c common
	c.register(fs)
	config := fs.String("config", "", "CredentialProviderConfig to take the provider from")
	binDir := fs.String("bin-dir", "", "plugin directory")
	name := fs.String("name", "", "provider name (the executable's file name in --bin-dir)")
	apiVersion := fs.String("api-version", "credentialprovider.kubelet.k8s.io/v1", "provider apiVersion (without --config)")
	var pargs, penv multiFlag
	fs.Var(&pargs, "arg", "provider argument (repeatable; without --config)")
	fs.Var(&penv, "env", "provider env entry NAME=VALUE (repeatable; without --config)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *binDir == "" || fs.NArg() != 1 || (*config == "" && *name == "") {
		return fail(2, "exec needs --bin-dir, --config or --name, and one IMAGE")
	}
	if err := c.apply(); err != nil {
		return fail(2, "%v", err)
	}
	image := fs.Arg(0)

	cfgPath := *config
	if cfgPath == "" {
		prov := map[string]any{
			"name":                 *name,
			"apiVersion":           *apiVersion,
			"matchImages":          []string{"*"}, // not consulted: ExecPlugin runs below matchImages filtering
			"defaultCacheDuration": "0s",
		}
		if len(pargs) > 0 {
			prov["args"] = []string(pargs)
		}
		if len(penv) > 0 {
			var env []envVar
			for _, kv := range penv {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fail(2, "--env %q: want NAME=VALUE", kv)
				}
				env = append(env, envVar{k, v})
			}
			prov["env"] = env
		}
		doc, _ := json.Marshal(map[string]any{
			"apiVersion": "kubelet.config.k8s.io/v1",
			"kind":       "CredentialProviderConfig",
			"providers":  []any{prov},
		})
		f, err := os.CreateTemp("", "kubelet-harness-config-*.json")
		if err != nil {
			return fail(1, "%v", err)
		}
		defer os.Remove(f.Name())
		if _, err := f.Write(doc); err != nil {
			return fail(1, "%v", err)
		}
		f.Close()
		cfgPath = f.Name()
	}
	if err := register(cfgPath, *binDir); err != nil {
		return fail(1, "registering credential providers: %v", err)
	}
	providers := registeredProviders()
	var rc recorder
	rc.install(providers)
	capture.take()

	target := *name
	if target == "" {
		if len(providers) != 1 {
			names := make([]string, 0, len(providers))
			for _, p := range providers {
				names = append(names, p.name)
			}
			sort.Strings(names)
			return fail(2, "the config has %d providers (%s): choose one with --name", len(providers), strings.Join(names, ", "))
		}
		target = providers[0].name
	}
	rp, ok := rc.plugins[target]
	if !ok {
		return fail(2, "no provider named %q in the config", target)
	}
	// The kubelet's execPlugin.ExecPlugin: encode the request in the provider's apiVersion, run
	// BIN_DIR/NAME ARGS... with os.Environ() plus the provider's env, check the response's apiVersion,
	// decode it strictly.
	_, err := rp.ExecPlugin(context.Background(), image, "", nil)
	recs := rc.take()
	rec := recs[len(recs)-1]
	emit(struct {
		execRecord
		Log []json.RawMessage `json:"log"`
	}{rec, capture.take()})
	if err != nil {
		return 1
	}
	return 0
}
