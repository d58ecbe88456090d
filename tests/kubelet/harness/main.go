// Command kubelet-harness runs an image credential provider plugin through the kubelet's own code
// (k8s.io/kubernetes/pkg/credentialprovider/plugin and the keyring in pkg/credentialprovider), so tests
// can check the plugin and the CredentialProviderConfig files written for it as a real kubelet sees them.
//
//	kubelet-harness validate [--bin-dir DIR] CONFIG
//	kubelet-harness lookup   --config CONFIG --bin-dir DIR [--raw] [POD FLAGS] IMAGE... [POD FLAGS IMAGE...]...
//	kubelet-harness exec     --bin-dir DIR (--config CONFIG [--name NAME] | --name NAME --api-version V [--arg A]... [--env K=V]...) [POD FLAGS] IMAGE
//
// Every subcommand also takes --feature-gates (the kubelet's syntax) and -v (klog verbosity). The pod flags
// (pods.go) describe the pod a pull is for and its service account, for providers with tokenAttributes.
// Output is JSON on stdout, one line per result; see ../README.md.
//
// Registration, config reading and validation, request encoding, the plugin's execution, the strict
// response decoding, matchImages filtering, the response cache, the keyring lookup, service-account tokens
// (the token manager, the plugin package's token request, annotations, cache keys and rejection rules) are all
// the kubelet's code; tokens are minted by the API server's code. The harness only reaches into the
// registered providers (by reflection, since the types are unexported) to describe them and to wrap each
// provider's exec Plugin with a recorder that passes every call through unchanged and notes what the
// kubelet sent and decoded.
package main

import (
	"context"
	"encoding/json"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
  kubelet-harness lookup   --config CONFIG --bin-dir DIR [--raw] [POD FLAGS] IMAGE... [POD FLAGS IMAGE...]...
  kubelet-harness exec     --bin-dir DIR (--config CONFIG [--name NAME] | --name NAME --api-version V [--arg A]... [--env K=V]...) [POD FLAGS] IMAGE
common flags: --feature-gates K=bool,... (kubelet feature gates)  -v N (klog verbosity of the captured log)
pod flags: --pod-namespace NS [--pod-name N] [--pod-uid U] [--pod-service-account SA] [--sa-uid U]
  [--sa-annotation K=V]... [--node-name N] [--token-ttl D] [--token-not-before D] [--token-audience AUD]
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

// subcommand is a subcommand's flag set with the common flags registered.
type subcommand struct {
	*flag.FlagSet
	common
}

func newSubcommand(name string) *subcommand {
	s := &subcommand{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.common.register(s.FlagSet)
	return s
}

// start parses args, lets check refuse them (a usage error, its message) and applies the common flags. A
// non-zero result is the exit code to return.
func (s *subcommand) start(args []string, check func() string) int {
	if err := s.Parse(args); err != nil {
		return 2
	}
	if msg := check(); msg != "" {
		return fail(2, "%s", msg)
	}
	if err := s.apply(); err != nil {
		return fail(2, "%v", err)
	}
	return 0
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

// register is what the kubelet does at startup with --image-credential-provider-config and
// --image-credential-provider-bin-dir (kuberuntime.NewKubeGenericRuntimeManager): read and validate
// the config, check every provider's executable, register the providers with the kubelet's token manager
// and service-account getter, here backed by api. The kubelet exits on an error.
func register(configPath, binDir string, api *apiServer) error {
	getToken, getServiceAccount := kubeletGetters(api)
	return plugin.RegisterCredentialProviderPlugins(configPath, binDir, getToken, getServiceAccount)
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

type tokenAttributesInfo struct {
	ServiceAccountTokenAudience          string   `json:"serviceAccountTokenAudience"`
	CacheType                            string   `json:"cacheType"`
	RequireServiceAccount                bool     `json:"requireServiceAccount"`
	RequiredServiceAccountAnnotationKeys []string `json:"requiredServiceAccountAnnotationKeys"`
	OptionalServiceAccountAnnotationKeys []string `json:"optionalServiceAccountAnnotationKeys"`
}

type providerInfo struct {
	Name                 string               `json:"name"`
	APIVersion           string               `json:"apiVersion"`
	Args                 []string             `json:"args"`
	Env                  []envVar             `json:"env"`
	MatchImages          []string             `json:"matchImages"`
	DefaultCacheDuration string               `json:"defaultCacheDuration"`
	TokenAttributes      *tokenAttributesInfo `json:"tokenAttributes"` // null when the kubelet sends no tokens
}

func stringList(v reflect.Value) []string {
	out := []string{}
	for i := 0; i < v.Len(); i++ {
		out = append(out, v.Index(i).String())
	}
	return out
}

// describe reports a provider as the kubelet decoded it from the config.
func describe(r registered) providerInfo {
	info := providerInfo{Name: r.name, Env: []envVar{}}
	info.MatchImages = stringList(accessible(r.provider, "matchImages"))
	d := accessible(r.provider, "defaultCacheDuration")
	info.DefaultCacheDuration = d.Interface().(fmt.Stringer).String()
	// serviceAccountProvider is nil unless the feature gate is on and tokenAttributes names an audience.
	if sap := accessible(r.provider, "serviceAccountProvider"); !sap.IsNil() {
		s := sap.Elem()
		info.TokenAttributes = &tokenAttributesInfo{
			ServiceAccountTokenAudience:          accessible(s, "audience").String(),
			CacheType:                            accessible(s, "cacheType").String(),
			RequireServiceAccount:                accessible(s, "requireServiceAccount").Bool(),
			RequiredServiceAccountAnnotationKeys: stringList(accessible(s, "requiredServiceAccountAnnotationKeys")),
			OptionalServiceAccountAnnotationKeys: stringList(accessible(s, "optionalServiceAccountAnnotationKeys")),
		}
	}
	p := r.pluginField
	if rp, ok := p.Interface().(*recordingPlugin); ok {
		p = reflect.ValueOf(&rp.inner).Elem()
	}
	exec := p.Elem().Elem() // interface -> *execPlugin -> struct
	info.APIVersion = accessible(exec, "apiVersion").String()
	info.Args = stringList(accessible(exec, "args"))
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
	Provider string `json:"provider"`
	// What the kubelet put in the request: the image, and for a provider with tokenAttributes the pod's
	// service-account token and the annotations it passes on.
	Image                     string            `json:"image"`
	ServiceAccountToken       string            `json:"serviceAccountToken,omitempty"`
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`
	Response                  *responseOut      `json:"response,omitempty"`
	Error                     string            `json:"error,omitempty"`
	Stderr                    *string           `json:"stderr,omitempty"` // the plugin's stderr, when the kubelet's error carries it
}

// pluginStderr is the plugin's stderr out of the kubelet's error for a plugin that ran and failed
// (execPlugin.ExecPlugin: "error execing credential provider plugin NAME for image IMAGE: CAUSE: STDERR").
func pluginStderr(provider, image string, err error) *string {
	rest, ok := strings.CutPrefix(err.Error(), fmt.Sprintf("error execing credential provider plugin %s for image %s: ", provider, image))
	if !ok {
		return nil
	}
	if _, stderr, ok := strings.Cut(rest, ": "); ok {
		return &stderr
	}
	return nil
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
	rec := execRecord{Provider: r.provider, Image: image, ServiceAccountToken: serviceAccountToken, ServiceAccountAnnotations: serviceAccountAnnotations}
	if err != nil {
		rec.Error = err.Error()
		rec.Stderr = pluginStderr(r.provider, image, err)
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
	s := newSubcommand("validate")
	binDir := s.String("bin-dir", "", "also require every provider's executable in DIR, as the kubelet does at startup (default: placeholders in a temporary directory)")
	if code := s.start(args, func() string {
		if s.NArg() != 1 {
			return "validate takes one CONFIG (file or directory)"
		}
		return ""
	}); code != 0 {
		return code
	}
	configPath := s.Arg(0)
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
	api, err := newAPIServer()
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := register(configPath, dir, api); err != nil {
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
	Image         string            `json:"image"`
	Repository    string            `json:"repository"`    // what the kubelet looks up (parsers.ParseImageName), or IMAGE with --raw
	Pod           *podOut           `json:"pod,omitempty"` // the pod the pull is for (pod flags)
	Found         bool              `json:"found"`
	Auths         []authOut         `json:"auths"`
	TokenRequests []tokenRecord     `json:"tokenRequests,omitempty"` // the kubelet's TokenRequests (none when its token manager had the token)
	Execs         []execRecord      `json:"execs"`                   // plugin runs for this image, in order (none when served from the kubelet's cache)
	Error         string            `json:"error,omitempty"`
	Log           []json.RawMessage `json:"log"`
}

// podImages is a run of images looked up for one pod (nil: no pod, as before service-account tokens).
type podImages struct {
	pod    *podFlags
	images []string
}

// podRuns splits what follows lookup's flags into runs: IMAGE... then, for each later group of pod flags,
// the images that follow it. A later group describes a new pod: its unset flags take their defaults.
func podRuns(first *podFlags, rest []string) ([]podImages, string) {
	runs := []podImages{{pod: first}}
	for len(rest) > 0 {
		if !strings.HasPrefix(rest[0], "-") {
			runs[len(runs)-1].images = append(runs[len(runs)-1].images, rest[0])
			rest = rest[1:]
			continue
		}
		fs := flag.NewFlagSet("lookup (pod)", flag.ContinueOnError)
		var p podFlags
		p.register(fs)
		if err := fs.Parse(rest); err != nil {
			return nil, "after the images, only pod flags may follow"
		}
		if err := p.check(fs); err != nil {
			return nil, err.Error()
		}
		runs = append(runs, podImages{pod: &p})
		rest = fs.Args()
	}
	for _, r := range runs {
		if len(r.images) == 0 {
			return nil, "lookup needs at least one IMAGE (after every group of pod flags)"
		}
	}
	return runs, ""
}

func cmdLookup(args []string) int {
	s := newSubcommand("lookup")
	config := s.String("config", "", "CredentialProviderConfig file or directory (--image-credential-provider-config)")
	binDir := s.String("bin-dir", "", "plugin directory (--image-credential-provider-bin-dir)")
	raw := s.Bool("raw", false, "look IMAGE up as given instead of normalising it as the kubelet's image manager does")
	var first podFlags
	first.register(s.FlagSet)
	var runs []podImages
	if code := s.start(args, func() string {
		if *config == "" || *binDir == "" || s.NArg() == 0 {
			return "lookup needs --config, --bin-dir and at least one IMAGE"
		}
		if err := first.check(s.FlagSet); err != nil {
			return err.Error()
		}
		var msg string
		runs, msg = podRuns(&first, s.Args())
		return msg
	}); code != 0 {
		return code
	}
	api, err := newAPIServer()
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := register(*config, *binDir, api); err != nil {
		return fail(1, "registering credential providers: %v", err)
	}
	var rc recorder
	rc.install(registeredProviders())
	capture.take()

	for _, run := range runs {
		pod := run.pod
		if pod.namespace == "" {
			pod = nil
		}
		api.setPod(pod)
		for _, image := range run.images {
			emit(lookupOne(image, *raw, pod, api, &rc))
		}
	}
	return 0
}

// lookupOne is one pull's credential lookup for IMAGE, for pod (nil: none).
func lookupOne(image string, raw bool, pod *podFlags, api *apiServer, rc *recorder) lookupOut {
	out := lookupOut{Image: image, Repository: image, Pod: pod.view(), Auths: []authOut{}}
	finish := func() lookupOut {
		out.TokenRequests, out.Execs, out.Log = api.take(), rc.take(), capture.take()
		return out
	}
	if !raw {
		// pkg/kubelet/images.(*imageManager).makeLookupPullCredentialsFunc
		repo, _, _, err := parsers.ParseImageName(image)
		if err != nil {
			out.Error = err.Error()
			out.Repository = ""
			return finish()
		}
		out.Repository = repo
	}
	// A new keyring per pull, as the kubelet makes one per pod (with the pod's namespace, name, UID and
	// service account name); the providers (and their response caches) are the registered ones and live
	// for the whole run, as in the kubelet.
	var keyring credentialprovider.DockerKeyring
	if pod == nil {
		keyring = plugin.NewExternalCredentialProviderDockerKeyring("", "", "", "")
	} else {
		keyring = plugin.NewExternalCredentialProviderDockerKeyring(pod.namespace, pod.name, pod.uid, pod.serviceAccount)
	}
	auths, found := keyring.Lookup(out.Repository)
	out.Found = found
	for _, a := range auths {
		out.Auths = append(out.Auths, authOut{Username: a.Username, Password: a.Password})
	}
	return finish()
}

// ---- exec ----

func cmdExec(args []string) int {
	s := newSubcommand("exec")
	config := s.String("config", "", "CredentialProviderConfig to take the provider from")
	binDir := s.String("bin-dir", "", "plugin directory")
	name := s.String("name", "", "provider name (the executable's file name in --bin-dir)")
	apiVersion := s.String("api-version", "credentialprovider.kubelet.k8s.io/v1", "provider apiVersion (without --config)")
	var pargs, penv multiFlag
	s.Var(&pargs, "arg", "provider argument (repeatable; without --config)")
	s.Var(&penv, "env", "provider env entry NAME=VALUE (repeatable; without --config)")
	var pod podFlags
	pod.register(s.FlagSet)
	if code := s.start(args, func() string {
		if *binDir == "" || s.NArg() != 1 || (*config == "" && *name == "") {
			return "exec needs --bin-dir, --config or --name, and one IMAGE"
		}
		if err := pod.check(s.FlagSet); err != nil {
			return err.Error()
		}
		return ""
	}); code != 0 {
		return code
	}
	image := s.Arg(0)

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
	api, err := newAPIServer()
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := register(cfgPath, *binDir, api); err != nil {
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
	var saToken string
	var annotations map[string]string
	if pod.namespace != "" {
		var code int
		if saToken, annotations, code = execToken(providers, target, &pod, api); code != 0 {
			return code
		}
	}
	// The kubelet's execPlugin.ExecPlugin: encode the request in the provider's apiVersion, run
	// BIN_DIR/NAME ARGS... with os.Environ() plus the provider's env, check the response's apiVersion,
	// decode it strictly.
	_, err = rp.ExecPlugin(context.Background(), image, saToken, annotations)
	recs := rc.take()
	rec := recs[len(recs)-1]
	emit(struct {
		execRecord
		TokenRequests []tokenRecord     `json:"tokenRequests,omitempty"`
		Log           []json.RawMessage `json:"log"`
	}{rec, api.take(), capture.take()})
	if err != nil {
		return 1
	}
	return 0
}

// execToken is the token and annotations exec sends for pod: a token requested as the kubelet requests it
// (the provider's audience, bound to the pod; --token-audience when the provider has no tokenAttributes) and
// the --sa-annotation values as given (below the kubelet's selection by annotation keys).
func execToken(providers []registered, target string, pod *podFlags, api *apiServer) (string, map[string]string, int) {
	audience := pod.audience
	for _, p := range providers {
		if ta := describe(p).TokenAttributes; p.name == target && ta != nil {
			audience = ta.ServiceAccountTokenAudience
		}
	}
	if audience == "" {
		return "", nil, fail(2, "provider %q has no tokenAttributes: give --token-audience to send a token", target)
	}
	api.setPod(pod)
	tr, err := api.createToken(pod.namespace, pod.serviceAccount, &authenticationv1.TokenRequest{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(pod.saUID)},
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:      []string{audience},
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.name, UID: types.UID(pod.uid)},
		},
	})
	if err != nil {
		return "", nil, fail(1, "minting a token: %v", err)
	}
	return tr.Status.Token, pod.annotationMap(), 0
}
