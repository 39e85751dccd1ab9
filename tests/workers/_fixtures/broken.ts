// A worker module that throws while loading.
throw new Error("broken module");
