package main

// The pod a lookup is made for, and the API server's part in it: the pod's service account (what the kubelet's
// getServiceAccount reads) and TokenRequests for it (what the kubelet's token manager asks for), answered with
// tokens minted and signed by the API server's own code (pkg/serviceaccount: Claims and JWTTokenGenerator, as
// the TokenRequest endpoint does). The kubelet's side is all the kubelet's code: the token manager
// (pkg/kubelet/token, with its token cache and refresh rules) and the plugin package, which asks for the token,
// reads the annotations, keys its cache per cacheType and applies its rejection rules.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"gopkg.in/go-jose/go-jose.v2/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientset "k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/kubelet/token"
	"k8s.io/kubernetes/pkg/serviceaccount"
)

// issuer is the iss claim of the minted tokens (a kube-apiserver's usual --service-account-issuer).
const issuer = "https://kubernetes.default.svc.cluster.local"

// podFlags describe the pod of a lookup (or exec) and its service account.
type podFlags struct {
	namespace      string
	name           string
	uid            string
	serviceAccount string
	saUID          string
	annotations    multiFlag
	node           string
	ttl            time.Duration
	notBefore      time.Duration
	audience       string
}

func (p *podFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.namespace, "pod-namespace", "", "look up for a pod in this namespace (the kubelet's per-pod keyring; service-account tokens for providers with tokenAttributes)")
	fs.StringVar(&p.name, "pod-name", "harness-pod", "the pod's name")
	fs.StringVar(&p.uid, "pod-uid", "", "the pod's UID (default: derived from namespace and name)")
	fs.StringVar(&p.serviceAccount, "pod-service-account", "default", `the pod's spec.serviceAccountName ("" for none, as for a static pod)`)
	fs.StringVar(&p.saUID, "sa-uid", "", "the service account's UID (default: derived from namespace and name)")
	fs.Var(&p.annotations, "sa-annotation", "annotation KEY=VALUE of the service account (repeatable)")
	fs.StringVar(&p.node, "node-name", "harness-node", "the node the pod runs on (the token's kubernetes.io.node)")
	fs.DurationVar(&p.ttl, "token-ttl", time.Hour, "time from now until minted tokens expire; 0 or negative: expired that long ago")
	fs.DurationVar(&p.notBefore, "token-not-before", 0, "nbf of minted tokens, as an offset from their iat (positive: not valid yet)")
	fs.StringVar(&p.audience, "token-audience", "", "mint tokens for this audience instead of the one the kubelet asks for")
}

// check refuses pod flags without --pod-namespace and malformed annotations.
func (p *podFlags) check(fs *flag.FlagSet) error {
	if p.namespace == "" {
		var stray []string
		fs.Visit(func(f *flag.Flag) {
			if isPodFlag(f.Name) {
				stray = append(stray, "--"+f.Name)
			}
		})
		if len(stray) > 0 {
			return fmt.Errorf("%s given without --pod-namespace", strings.Join(stray, ", "))
		}
		return nil
	}
	for _, kv := range p.annotations {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--sa-annotation %q: want KEY=VALUE", kv)
		}
	}
	if p.uid == "" {
		p.uid = derivedUID("pod", p.namespace, p.name)
	}
	if p.saUID == "" {
		p.saUID = derivedUID("serviceaccount", p.namespace, p.serviceAccount)
	}
	return nil
}

func isPodFlag(name string) bool {
	var p podFlags
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	p.register(fs)
	return fs.Lookup(name) != nil
}

// derivedUID is a stable UUID-shaped UID, so repeated runs describe the same objects.
func derivedUID(kind, namespace, name string) string {
	s := sha256.Sum256([]byte(kind + "\x00" + namespace + "\x00" + name))
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

type podOut struct {
	Namespace      string            `json:"namespace"`
	Name           string            `json:"name"`
	UID            string            `json:"uid"`
	ServiceAccount string            `json:"serviceAccount"`
	Annotations    map[string]string `json:"serviceAccountAnnotations"`
}

func (p *podFlags) view() *podOut {
	if p == nil || p.namespace == "" {
		return nil
	}
	return &podOut{Namespace: p.namespace, Name: p.name, UID: p.uid, ServiceAccount: p.serviceAccount, Annotations: p.annotationMap()}
}

func (p *podFlags) annotationMap() map[string]string {
	m := map[string]string{}
	for _, kv := range p.annotations {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// tokenRecord is one TokenRequest the kubelet made (none when its token manager served a cached token).
type tokenRecord struct {
	Namespace      string   `json:"namespace"`
	ServiceAccount string   `json:"serviceAccount"`
	Audiences      []string `json:"audiences"` // what the kubelet asked for
	BoundPod       string   `json:"boundPod"`  // spec.boundObjectRef.name
	Token          string   `json:"token,omitempty"`
	Expiration     string   `json:"expirationTimestamp,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// apiServer answers the kubelet's service-account reads and TokenRequests for the pod being looked up.
type apiServer struct {
	mu      sync.Mutex
	pod     *podFlags // nil: no pod, so no service account exists
	tokens  serviceaccount.TokenGenerator
	records []tokenRecord
}

func newAPIServer() (*apiServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	gen, err := serviceaccount.JWTTokenGenerator(issuer, key)
	if err != nil {
		return nil, err
	}
	return &apiServer{tokens: gen}, nil
}

func (a *apiServer) setPod(p *podFlags) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pod = p
}

func (a *apiServer) take() []tokenRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.records
	a.records = nil
	if out == nil {
		out = []tokenRecord{}
	}
	return out
}

var saResource = schema.GroupResource{Resource: "serviceaccounts"}

// serviceAccount is GET /api/v1/namespaces/NS/serviceaccounts/NAME: only the current pod's account exists.
func (a *apiServer) serviceAccount(namespace, name string) (*corev1.ServiceAccount, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pod
	if p == nil || p.namespace != namespace || p.serviceAccount != name || name == "" {
		return nil, apierrors.NewNotFound(saResource, name)
	}
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, UID: types.UID(p.saUID), Annotations: p.annotationMap(),
	}}, nil
}

// createToken is POST .../serviceaccounts/NAME/token, with the checks of the API server's TokenRequest
// endpoint that apply to a pod-bound request (service account UID precondition, bound pod and its service
// account), the expiration default, and the API server's Claims and signer.
func (a *apiServer) createToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	rec := tokenRecord{Namespace: namespace, ServiceAccount: name, Audiences: append([]string{}, tr.Spec.Audiences...)}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		rec.BoundPod = ref.Name
	}
	out, err := a.mint(namespace, name, tr)
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.Token = out.Status.Token
		rec.Expiration = out.Status.ExpirationTimestamp.UTC().Format(time.RFC3339)
	}
	a.mu.Lock()
	a.records = append(a.records, rec)
	a.mu.Unlock()
	return out, err
}

func (a *apiServer) mint(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	sa, err := a.serviceAccount(namespace, name)
	if err != nil {
		// Not apierrors' NotFound: the token manager would then ask the discovery API, which is not served.
		return nil, fmt.Errorf("serviceaccounts %q not found", name)
	}
	a.mu.Lock()
	p := *a.pod
	a.mu.Unlock()
	if tr.UID != "" && tr.UID != sa.UID {
		return nil, fmt.Errorf("the UID in the token request (%s) does not match the UID of the service account (%s)", tr.UID, sa.UID)
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" || ref.Name != p.name {
		return nil, errors.New("kubelet-harness: expected a token request bound to the pod being looked up")
	}
	if ref.UID != "" && ref.UID != types.UID(p.uid) {
		return nil, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record", ref.UID)
	}
	seconds := int64(3600) // the TokenRequest API's default expirationSeconds
	if tr.Spec.ExpirationSeconds != nil {
		seconds = *tr.Spec.ExpirationSeconds
	}
	coreSA := core.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: sa.UID}}
	pod := &core.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: p.name, UID: types.UID(p.uid)}}
	node := &core.Node{ObjectMeta: metav1.ObjectMeta{Name: p.node, UID: types.UID(derivedUID("node", "", p.node))}}
	claims, private, err := serviceaccount.Claims(coreSA, pod, nil, node, nil, nil, seconds, 0, tr.Spec.Audiences, nil)
	if err != nil {
		return nil, err
	}
	// The harness's pod flags: the expiry (a token that expired --token-ttl ago was issued an hour before
	// that), nbf, and an audience other than the one asked for.
	now := time.Now()
	exp := now.Add(p.ttl)
	issued := now
	if p.ttl <= 0 {
		issued = exp.Add(-time.Hour)
	}
	claims.Expiry = jwt.NewNumericDate(exp)
	claims.IssuedAt = jwt.NewNumericDate(issued)
	claims.NotBefore = jwt.NewNumericDate(issued.Add(p.notBefore))
	if p.audience != "" {
		claims.Audience = jwt.Audience{p.audience}
	}
	signed, err := a.tokens.GenerateToken(context.Background(), claims, private)
	if err != nil {
		return nil, err
	}
	out := tr.DeepCopy()
	out.Namespace, out.Name, out.UID = namespace, name, sa.UID
	lifetime := int64(exp.Sub(issued) / time.Second)
	out.Spec.ExpirationSeconds = &lifetime
	out.Status = authenticationv1.TokenRequestStatus{Token: signed, ExpirationTimestamp: metav1.NewTime(exp)}
	return out, nil
}

// The clientset the kubelet's token manager and getServiceAccount use: only ServiceAccounts' Get and
// CreateToken are served; anything else panics on the nil embedded interface.

type harnessClient struct {
	clientset.Interface
	api *apiServer
}

func (c harnessClient) CoreV1() corev1client.CoreV1Interface { return harnessCore{api: c.api} }

type harnessCore struct {
	corev1client.CoreV1Interface
	api *apiServer
}

func (c harnessCore) ServiceAccounts(namespace string) corev1client.ServiceAccountInterface {
	return harnessServiceAccounts{namespace: namespace, api: c.api}
}

type harnessServiceAccounts struct {
	corev1client.ServiceAccountInterface
	namespace string
	api       *apiServer
}

func (s harnessServiceAccounts) Get(_ context.Context, name string, _ metav1.GetOptions) (*corev1.ServiceAccount, error) {
	return s.api.serviceAccount(s.namespace, name)
}

func (s harnessServiceAccounts) CreateToken(_ context.Context, name string, tr *authenticationv1.TokenRequest, _ metav1.CreateOptions) (*authenticationv1.TokenRequest, error) {
	return s.api.createToken(s.namespace, name, tr)
}

// kubeletGetters are the two functions the kubelet passes to RegisterCredentialProviderPlugins
// (pkg/kubelet/kubelet.go): its token manager's GetServiceAccountToken and a service-account GET.
func kubeletGetters(api *apiServer) (func(string, string, *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error), func(string, string) (*corev1.ServiceAccount, error)) {
	client := harnessClient{api: api}
	manager := token.NewManager(client)
	getServiceAccount := func(namespace, name string) (*corev1.ServiceAccount, error) {
		return client.CoreV1().ServiceAccounts(namespace).Get(context.Background(), name, metav1.GetOptions{})
	}
	return manager.GetServiceAccountToken, getServiceAccount
}
