// tfspark build. Versions are pinned here, in one place: nothing else names a dependency's version.
val scala213Version = "2.13.18"
val sparkVersion = "4.2.0"
val tensorflowVersion = "1.1.0"
val scalatestVersion = "3.2.19"
val nativeClassifier = "linux-x86_64"
// The Hadoop that Spark 4.2.0 resolves to (its hadoop-client-api/-runtime), for the test-only
// MiniDFSCluster: hadoop-client-minicluster is Hadoop's shaded test cluster, built to sit beside
// those shaded client jars (the unshaded hadoop-minicluster's hadoop-common/-hdfs bring unshaded
// Guava, Jetty 9 with javax servlets, Jersey 2 and reload4j/slf4j 1 onto Spark 4's classpath).
val hadoopVersion = "3.5.0"

ThisBuild / organization := "io.tfspark"
ThisBuild / version := "0.1.0-SNAPSHOT"
ThisBuild / scalaVersion := scala213Version

/** The --add-opens flags that Spark's launcher passes on Java 17 (JavaModuleOptions.java). */
val sparkJavaModuleOptions = Seq(
  "-XX:+IgnoreUnrecognizedVMOptions",
  "--add-modules=jdk.incubator.vector",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.net=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
  "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
  "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
  "-Djdk.reflect.useDirectMethodHandle=false",
  "-Dio.netty.tryReflectionSetAccessible=true"
)

/** One JavaCPP cache shared by sbt tests, spark-submit and the executors (the natives are ~680 MB). */
val javacppCacheDir = settingKey[File]("Where JavaCPP extracts the TensorFlow native library")

lazy val commonSettings = Seq(
  scalacOptions ++= Seq("-deprecation", "-feature", "-unchecked", "-Xlint:-byname-implicit,_", "-release:17"),
  javacOptions ++= Seq("--release", "17")
)

lazy val root = (project in file("."))
  .aggregate(sparkScala, extras)
  .settings(
    name := "tfspark-root",
    publish / skip := true
  )

lazy val sparkScala = (project in file("spark-scala"))
  .settings(commonSettings)
  .settings(
    name := "tfspark",
    libraryDependencies ++= Seq(
      "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
      "org.apache.spark" %% "spark-mllib" % sparkVersion % Provided,
      "org.tensorflow" % "tensorflow-core-api" % tensorflowVersion,
      "org.tensorflow" % "tensorflow-core-native" % tensorflowVersion classifier nativeClassifier,
      "org.scalatest" %% "scalatest" % scalatestVersion % Test,
      "org.apache.hadoop" % "hadoop-client-minicluster" % hadoopVersion % Test
    ),
    javacppCacheDir := (ThisBuild / baseDirectory).value / ".cache" / "javacpp",
    // TF natives load once per JVM, and Spark needs the module flags: tests run forked.
    Test / fork := true,
    Test / parallelExecution := false,
    Test / testForkedParallel := false,
    Test / baseDirectory := (ThisBuild / baseDirectory).value,
    Test / javaOptions ++= sparkJavaModuleOptions ++ Seq(
      "-Xmx3g",
      s"-Dorg.bytedeco.javacpp.cachedir=${javacppCacheDir.value}",
      s"-Dtfspark.repo.root=${(ThisBuild / baseDirectory).value}"
    ),
    // The local-cluster suite starts real executor JVMs; they get the test classpath
    // (minus the Spark jars that SPARK_HOME/jars already provides) as extraClassPath.
    Test / javaOptions += {
      val cp = (Test / fullClasspath).value.files
        .filterNot(f => f.getName.startsWith("spark-") || f.getPath.contains("/org/apache/spark/"))
      s"-Dtfspark.test.executorClasspath=${cp.mkString(java.io.File.pathSeparator)}"
    },
    // local-cluster executors start from SPARK_HOME: pyspark's package directory in .venv.
    Test / envVars ++= {
      val pyspark = ((ThisBuild / baseDirectory).value / ".venv" / "lib" * "python3*" / "site-packages" / "pyspark").get
      sys.env.get("SPARK_HOME").orElse(pyspark.headOption.map(_.getPath)).map("SPARK_HOME" -> _).toMap +
        ("TF_CPP_MIN_LOG_LEVEL" -> sys.env.getOrElse("TF_CPP_MIN_LOG_LEVEL", "1")) +
        ("SPARK_SCALA_VERSION" -> "2.13") // else Spark's launcher looks for a source build
    },
    Test / testOptions += Tests.Argument(TestFrameworks.ScalaTest, "-oD"),
    // The fat jar holds tfspark and TF Java's classes; the ~160 MB native classifier jar stays
    // out of it and travels beside it (spark-submit --jars), so assembly stays fast.
    assembly / assemblyJarName := s"tfspark-assembly-${version.value}.jar",
    assembly / test := {},
    assembly / assemblyExcludedJars := (assembly / fullClasspath).value.filter { f =>
      f.data.getName.startsWith("tensorflow-core-native") && f.data.getName.endsWith(s"-$nativeClassifier.jar")
    },
    assembly / assemblyOption ~= (_.withIncludeScala(false)), // Spark ships the Scala library
    assembly / assemblyMergeStrategy := {
      case PathList("META-INF", "versions", _ @_*) => MergeStrategy.first
      case PathList("META-INF", "MANIFEST.MF") => MergeStrategy.discard
      case PathList("META-INF", xs @ _*) if xs.lastOption.exists(n => n.endsWith(".SF") || n.endsWith(".DSA") || n.endsWith(".RSA")) =>
        MergeStrategy.discard
      case "module-info.class" => MergeStrategy.discard
      case x if x.endsWith("/module-info.class") => MergeStrategy.discard
      case x =>
        val old = (assembly / assemblyMergeStrategy).value
        old(x)
    }
  )

/**
 * What is not tfspark itself and stays out of its jar: the book's chapter 6-7 demo
 * (`tfspark.examples.BookExamples`, run by bin/demo) and the JVM paths of the benchmark harness
 * (`tfspark.bench.BenchPaths`, called by bench/run through py4j). Staged as tfspark-extras.jar.
 */
lazy val extras = (project in file("spark-scala-extras"))
  .dependsOn(sparkScala)
  .settings(commonSettings)
  .settings(
    name := "tfspark-extras",
    libraryDependencies ++= Seq(
      "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
      "org.apache.spark" %% "spark-mllib" % sparkVersion % Provided
    )
  )

/** Copies the assembled jar, the extras jar and the native classifier jar to target/dist, the layout that bin/ and tests use. */
lazy val dist = taskKey[File]("Assemble tfspark and stage it with the TF native jar in spark-scala/target/dist")
sparkScala / dist := {
  val jar = (sparkScala / assembly).value
  val extrasJar = (extras / Compile / packageBin).value
  val outDir = (sparkScala / target).value / "dist"
  val natives = (sparkScala / Compile / dependencyClasspath).value.files
    .filter(f => f.getName.startsWith("tensorflow-core-native") && f.getName.endsWith(s"-$nativeClassifier.jar"))
  IO.delete(outDir)
  IO.createDirectory(outDir)
  IO.copyFile(jar, outDir / "tfspark-assembly.jar")
  IO.copyFile(extrasJar, outDir / "tfspark-extras.jar")
  natives.foreach(n => IO.copyFile(n, outDir / n.getName, preserveLastModified = true))
  streams.value.log.info(s"staged ${(outDir * "*.jar").get.map(_.getName).mkString(", ")} in $outDir")
  outDir
}
