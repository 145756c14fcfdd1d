package tfspark.tensor

import org.scalatest.funsuite.AnyFunSuite

/** [[OutputDecoder.invalidUtf8At]] agrees with Java's strict UTF-8 decoder, and says where it fails. */
class Utf8CheckSuite extends AnyFunSuite {

  private def bytes(hex: String): Array[Byte] = hex.split(" ").filter(_.nonEmpty).map(Integer.parseInt(_, 16).toByte)

  private def javaValid(b: Array[Byte]): Boolean =
    try {
      java.nio.charset.StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
        .decode(java.nio.ByteBuffer.wrap(b))
      true
    } catch { case _: java.nio.charset.CharacterCodingException => false }

  test("valid text of every sequence length is valid; the first bad byte is found") {
    Seq("", "ascii", "café", "日本", "𝄞 clef", "\u0000").foreach(s => assert(OutputDecoder.invalidUtf8At(s.getBytes("UTF-8")) === -1, s))
    assert(OutputDecoder.invalidUtf8At(bytes("89 50 4e 47")) === 0) // a PNG signature
    assert(OutputDecoder.invalidUtf8At("ab".getBytes ++ bytes("c3")) === 2) // truncated
    assert(OutputDecoder.invalidUtf8At(bytes("c0 80")) === 0) // overlong NUL
    assert(OutputDecoder.invalidUtf8At(bytes("e0 80 80")) === 0) // overlong
    assert(OutputDecoder.invalidUtf8At(bytes("ed a0 80")) === 0) // a surrogate
    assert(OutputDecoder.invalidUtf8At(bytes("f4 90 80 80")) === 0) // above U+10FFFF
    assert(OutputDecoder.invalidUtf8At(bytes("41 e2 82")) === 1)
    assert(OutputDecoder.invalidUtf8At(bytes("41 e2 82 ac")) === -1) // €
  }

  test("agrees with Java's strict decoder on random and structured bytes") {
    val random = new scala.util.Random(7)
    val samples = Iterator.fill(20000) {
      val n = random.nextInt(6)
      Array.fill(n)(if (random.nextBoolean()) (0x80 + random.nextInt(0x80)).toByte else random.nextInt(256).toByte)
    }
    samples.foreach(b => assert((OutputDecoder.invalidUtf8At(b) == -1) === javaValid(b), b.map(x => f"${x & 0xff}%02x").mkString(" ")))
  }
}
