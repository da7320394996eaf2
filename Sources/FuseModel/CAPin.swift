import Crypto
import X509

/// The pin of a federation's CA, as a join string carries it: SHA-256 of the CA public key's
/// SubjectPublicKeyInfo (DER), in hex. The master computes it from its key, a joining node
/// from the certificate the master sends; both must agree.
public enum CAPin {
    public static func of(_ key: P256.Signing.PublicKey) -> String {
        Hex.encode(SHA256.hash(data: key.derRepresentation))
    }

    /// The pin of a CA certificate in PEM, or nil when it is not a P-256 certificate.
    public static func of(pem: String) -> String? {
        guard let certificate = try? Certificate(pemEncoded: pem), let key = P256.Signing.PublicKey(certificate.publicKey) else { return nil }
        return of(key)
    }
}
