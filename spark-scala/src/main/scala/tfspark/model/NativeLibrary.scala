package tfspark.model

import tfspark.conf.TFSparkConf

/**
 * Where JavaCPP extracts TensorFlow's native library (about 680 MB uncompressed). Every JVM that
 * extracts it pays for that, so the driver, the executors and the tests share one directory:
 * the system property `org.bytedeco.javacpp.cachedir`, else the Spark conf
 * `spark.tfpredict.nativeCacheDir` (for clusters where HOME is not writable), else
 * `$TFSPARK_NATIVE_CACHE`, else JavaCPP's default (`~/.javacpp/cache`). It applies before the first
 * model loads in a JVM.
 */
object NativeLibrary {
  val CacheDirProperty = "org.bytedeco.javacpp.cachedir"
  val CacheDirEnv = "TFSPARK_NATIVE_CACHE"

  /** Applies the Spark conf or `$TFSPARK_NATIVE_CACHE` when the system property is not set. Idempotent. */
  def ensureConfigured(): Unit = synchronized {
    if (System.getProperty(CacheDirProperty) == null) {
      TFSparkConf
        .nativeCacheDir()
        .orElse(sys.env.get(CacheDirEnv))
        .filter(_.nonEmpty)
        .foreach(System.setProperty(CacheDirProperty, _))
    }
    TensorTypes.ensureRegistered() // issue 17: before any model loads, so no tensor is read while TF Java's registry grows
  }
}
