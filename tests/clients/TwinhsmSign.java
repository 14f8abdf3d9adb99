import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.cert.X509Certificate;

/**
 * Signs with a key that lives in twinhsm, through the JDK's SunPKCS11 provider, and verifies the
 * signature with the JDK's own provider and the public key of the key's certificate.
 *
 * <p>Usage: java TwinhsmSign CONFIG PIN ALIAS ALGORITHM (e.g. SHA256withECDSA)
 */
public class TwinhsmSign {
  public static void main(String[] args) throws Exception {
    Provider p11 = Security.getProvider("SunPKCS11").configure(args[0]);
    Security.addProvider(p11);
    KeyStore ks = KeyStore.getInstance("PKCS11", p11);
    ks.load(null, args[1].toCharArray());
    PrivateKey key = (PrivateKey) ks.getKey(args[2], null);
    X509Certificate cert = (X509Certificate) ks.getCertificate(args[2]);
    if (key == null || cert == null) {
      throw new IllegalArgumentException("no key with a certificate under the alias " + args[2]);
    }
    byte[] data = "signed by twinhsm through SunPKCS11".getBytes(StandardCharsets.UTF_8);

    Signature signer = Signature.getInstance(args[3], p11);
    signer.initSign(key);
    signer.update(data);
    byte[] signature = signer.sign();

    Signature verifier = Signature.getInstance(args[3]);  // not SunPKCS11: the JDK's provider
    verifier.initVerify(cert.getPublicKey());
    verifier.update(data);
    boolean good = verifier.verify(signature);
    System.out.println("signed by: " + signer.getProvider().getName());
    System.out.println("verified by: " + verifier.getProvider().getName());
    System.out.println("signature verified: " + good);

    data[0] ^= 1;
    verifier.initVerify(cert.getPublicKey());
    verifier.update(data);
    System.out.println("other data verified: " + verifier.verify(signature));
    System.exit(good ? 0 : 1);
  }
}
