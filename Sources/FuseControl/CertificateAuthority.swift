import Crypto
import FuseModel
import Foundation
import SwiftASN1
import X509

/// The federation's own certificate authority. Agents pin the SHA-256 of its public key
/// (from the join string) and trust nothing else for the control plane.
public struct CertificateAuthority: Sendable {
    public let key: P256.Signing.PrivateKey
    public let certificate: Certificate

    /// SHA-256 of the CA public key's SubjectPublicKeyInfo (DER), hex: the join string's pin.
    public var pin: String { CAPin.of(key.publicKey) }

    /// A new CA, valid for ten years.
    public static func create(federation: String, now: Date = Date()) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("FUSE federation \(federation)")
            CommonName("FUSE CA \(federation)")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(key: key, certificate: certificate)
    }

    /// A server certificate for the control plane, valid for the endpoint host and the given
    /// addresses (the master's VPN address and loopback).
    public func issueServerCertificate(hosts: [String], now: Date = Date()) throws -> (key: P256.Signing.PrivateKey, certificate: Certificate) {
        let serverKey = P256.Signing.PrivateKey()
        let names: [GeneralName] = hosts.map { host in
            if let ip = IPv4Address(host) {
                let v = ip.value
                return .ipAddress(ASN1OctetString(contentBytes: [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]))
            }
            return .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(2 * 365 * 86400),
            issuer: self.certificate.subject,
            subject: try DistinguishedName { CommonName(hosts.first ?? "fuse-master") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(key))
        return (serverKey, certificate)
    }
}
